"""Text that every backend can store."""


def storable(value: str) -> str:
    """A pydantic after-validator: PostgreSQL text cannot hold U+0000, so refuse it at the edge
    rather than let it surface as a database error (and SQLite answer otherwise)."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value
