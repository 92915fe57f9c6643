"""The one clock every timestamp the tool writes comes from.

``SOURCE_DATE_EPOCH`` (the reproducible-builds convention) fixes it, so the same sources
give byte-identical case files, custody logs and bags in tests and in court re-runs.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime


def now_utc() -> datetime:
    fixed = os.environ.get("SOURCE_DATE_EPOCH")
    if fixed:
        try:
            return datetime.fromtimestamp(int(fixed), tz=UTC)
        except (ValueError, OverflowError, OSError):
            pass
    return datetime.now(tz=UTC).replace(microsecond=0)


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC with a 'Z', seconds precision unless the value has fractions."""
    if dt is None:
        return None
    dt = dt.astimezone(UTC)
    text = dt.isoformat(timespec="microseconds" if dt.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def now_iso() -> str:
    return iso(now_utc()) or ""


def from_unix(seconds: float | int | None) -> str | None:
    """Unix seconds to ISO UTC; None for values no calendar holds."""
    if seconds is None:
        return None
    try:
        return iso(datetime.fromtimestamp(float(seconds), tz=UTC))
    except (ValueError, OverflowError, OSError):
        return None
