"""Identifiers of a profile: list, add, fetch, replace and remove values of one type."""
