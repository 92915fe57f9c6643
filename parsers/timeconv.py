"""Stored time values → ISO 8601 UTC with 'Z'; None when no calendar holds the value.

Callers always keep the raw value beside the converted one (forensic rule), so a
conversion that cannot be done loses nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

COCOA_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)
UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _iso(dt: datetime) -> str:
    text = dt.isoformat(timespec="microseconds" if dt.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _from(epoch: datetime, seconds: float | int | None) -> str | None:
    if seconds is None or isinstance(seconds, bool):
        return None
    try:
        dt = epoch + timedelta(seconds=float(seconds))
    except (OverflowError, ValueError, TypeError):
        return None
    if not 1 <= dt.year <= 9999:
        return None
    return _iso(dt)


def unix_to_iso(seconds: float | int | None) -> str | None:
    return _from(UNIX_EPOCH, seconds)


def unix_ms_to_iso(ms: float | int | None) -> str | None:
    return None if ms is None or isinstance(ms, bool) else _from(UNIX_EPOCH, float(ms) / 1000)


def cocoa_to_iso(seconds: float | int | None) -> str | None:
    """Apple absolute time: seconds since 2001-01-01T00:00:00Z."""
    return _from(COCOA_EPOCH, seconds)
