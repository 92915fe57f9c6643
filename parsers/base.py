"""The contract between the application and every parser.

A parser gets one stored file (:class:`Item`) and a :class:`Context` through which it
can find sibling files (a database's ``-wal``, ``<ROWID>.amr`` beside ``voicemail.db``)
and get a private scratch folder. It yields records and never raises for bad content:
problems are :class:`parsers.records.ProblemRecord` values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class Item:
    """A stored, read-only copy of one entry of a source."""

    path: str  # evidence path
    local_path: Path  # where the stored copy lies on disk (mode 0400)
    size: int
    sha256: str
    origin: str | None = None

    def open(self) -> BinaryIO:
        return open(self.local_path, "rb")

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def parent(self) -> str:
        return self.path.rsplit("/", 1)[0] if "/" in self.path else ""


class Context(Protocol):
    """What the application offers a parser while it runs."""

    source_kind: str  # ios-backup, android-backup, fs-extraction, folder, raw-image, ...

    def get(self, path: str) -> Item | None:
        """The stored file at this evidence path, if the source had one."""
        ...

    def glob(self, pattern: str) -> list[Item]:
        """Stored files whose evidence path matches an fnmatch pattern, sorted by path."""
        ...

    def scratch(self) -> Path:
        """A new empty folder under the case's tmp/, removed when the run ends."""
        ...


class Parser(Protocol):
    def __call__(self, item: Item, ctx: Context) -> Iterator[object]: ...
