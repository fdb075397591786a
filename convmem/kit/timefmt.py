"""Timestamps on the wire: whole-second UTC ``YYYY-MM-DDTHH:MM:SSZ`` (the SDKs parse only that)."""

from datetime import datetime, timezone


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
