"""The one exception type the SQLite reader raises for bad bytes.

Every structural problem (a lying length, a loop, a truncated page) becomes a
:class:`SqliteFormatError` carrying the file offset, so callers can turn it into an
error record naming where the damage is instead of a traceback.
"""

from __future__ import annotations


class SqliteFormatError(Exception):
    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        if self.offset is None:
            return self.message
        return f"{self.message} (offset {self.offset})"
