"""Changed regions as objects: components labelled across tiles, traced outlines."""
