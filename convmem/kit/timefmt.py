"""Timestamps on the wire: whole-second UTC ``YYYY-MM-DDTHH:MM:SSZ`` (the SDKs parse only that)."""

from datetime import datetime, timezone


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    # Not strftime: its %Y writes the year 14 as "14" on glibc, where the format needs "0014".
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}Z"
