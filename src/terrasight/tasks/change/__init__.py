"""Change detection between two dates: methods, the windowed pipeline and its result."""
