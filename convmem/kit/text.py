"""Text that every backend can store."""

import re

# A UTF-16 surrogate on its own: JSON can escape one (``"\\ud800"``), but no UTF-8 text holds it.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(value: str) -> str:
    """A pydantic after-validator: PostgreSQL text cannot hold U+0000, so refuse it at the edge
    rather than let it surface as a database error (and SQLite answer otherwise)."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value
