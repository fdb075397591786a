"""Lookup: which profiles hold an identifier value."""
