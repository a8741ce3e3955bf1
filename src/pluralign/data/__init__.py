"""Ratings: the long schema, the loaders of every source, the manifest of external files."""
