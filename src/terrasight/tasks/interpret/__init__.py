"""Interpreting single images: what a scene shows, in words."""
