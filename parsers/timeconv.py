"""Stored time values to ISO 8601 UTC strings (``YYYY-MM-DDTHH:MM:SS[.fff]Z``).

Every converter returns None for values outside what a device could plausibly store
(before 1970 or after 9999, NaN, booleans), so a garbage column never becomes a
convincing-looking date. Fractions are written only when the stored value had one.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
COCOA_OFFSET = 978307200  # seconds from 1970-01-01 to 2001-01-01
_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z


def _number(value: object) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _format(seconds: int, micros: int, digits: int) -> str:
    stamp = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if micros:
        frac = f"{micros:06d}"[:digits].rstrip("0")
        if frac:
            stamp += "." + frac
    return stamp + "Z"


def unix_to_iso(seconds: object) -> str | None:
    """Unix seconds (int or float) to ISO UTC; fractions to the microsecond if present."""
    value = _number(seconds)
    if value is None or value < 0 or value > _MAX_SECONDS:
        return None
    if isinstance(value, int) or float(value).is_integer():
        return _format(int(value), 0, 6)
    whole = math.floor(value)
    micros = round((value - whole) * 1_000_000)
    if micros >= 1_000_000:
        whole, micros = whole + 1, 0
    return _format(int(whole), micros, 6)


def unix_ms_to_iso(ms: object) -> str | None:
    """Unix milliseconds (Android's ``date`` columns) to ISO UTC, ``.fff`` when not whole."""
    value = _number(ms)
    if value is None:
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return unix_to_iso(value / 1000)
        value = int(value)
    if value < 0 or value > _MAX_SECONDS * 1000:
        return None
    seconds, millis = divmod(value, 1000)
    return _format(seconds, millis * 1000, 3)


def cocoa_to_iso(seconds_since_2001: object) -> str | None:
    """Apple/Cocoa absolute time (seconds since 2001-01-01 UTC) to ISO UTC."""
    value = _number(seconds_since_2001)
    if value is None:
        return None
    return unix_to_iso(value + COCOA_OFFSET)
