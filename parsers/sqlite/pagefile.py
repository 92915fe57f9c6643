"""Positioned reads on an evidence file, one page or header at a time.

Nothing here ever reads a whole file: a 1 GiB database or WAL is visited through
seek + read of at most one page (plus a frame header), so memory stays bounded by the
page size no matter how large the evidence is. Files are opened read-only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from parsers.sqlite.errors import SqliteFormatError

MAX_READ = 65536 + 64  # the largest page plus a WAL frame header


class PagedFile:
    """A read-only view on a binary file or stream with positioned, bounded reads."""

    def __init__(self, source: BinaryIO | str | Path, name: str) -> None:
        self.name = name
        self._owned = False
        if isinstance(source, str | Path):
            self._f: BinaryIO = open(source, "rb")
            self._owned = True
        else:
            self._f = source
        self._f.seek(0, os.SEEK_END)
        self.size = self._f.tell()

    def read_at(self, offset: int, length: int) -> bytes:
        if length > MAX_READ:
            raise SqliteFormatError(f"refusing a {length}-byte read", offset)
        if offset < 0 or offset + length > self.size:
            raise SqliteFormatError(
                f"read of {length} bytes past the end of the {self.name} file", offset
            )
        self._f.seek(offset)
        data = self._f.read(length)
        if len(data) != length:
            raise SqliteFormatError(f"short read in the {self.name} file", offset)
        return data

    def close(self) -> None:
        if self._owned:
            self._f.close()

    def __enter__(self) -> PagedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
