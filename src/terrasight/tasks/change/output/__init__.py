"""Files made from a change result alone: vectors, summary, quick-look pictures."""
