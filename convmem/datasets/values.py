"""A source value as the value of a trait of a given dataType."""

import datetime as dt
import decimal
import math
from typing import Any

from convmem.imports.rows import cell_value


def trait_value(data_type: str, value: Any) -> Any:
    """The trait value, None for an empty text; raises ``ValueError`` saying what it should be."""
    if isinstance(value, str):
        text = value.strip()
        return cell_value(data_type, text) if text else None
    if isinstance(value, decimal.Decimal):
        value = int(value) if value == value.to_integral_value() else float(value)
    if data_type == "NUMBER":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("must be a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value
    if data_type == "BOOLEAN":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError("must be true or false")
    if data_type == "ARRAY":
        if isinstance(value, (list, tuple)):
            return list(value)
        raise ValueError("must be an array")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return str(value)
    raise ValueError(f"must be text, not {type(value).__name__}")
