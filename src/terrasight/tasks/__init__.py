"""Tasks: what users ask of images (change, ...), built on io and models."""
