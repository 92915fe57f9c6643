"""The shapes every source speaks: entries, problems and the Source contract.

Entries are read-only views. A source opened from a stream (tar, ``.ab``) can only be
read in order, so an entry's ``open()`` is valid until the next entry is yielded; the
pipeline consumes each entry as it arrives and never goes back.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, ClassVar


class EntryKind(enum.StrEnum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    OTHER = "other"  # device nodes, fifos, hard links: listed, never read


@dataclass(frozen=True)
class Entry:
    """One object inside a source, named by its normalised logical POSIX path."""

    path: str
    kind: EntryKind
    size: int | None = None
    times: dict[str, float] = field(default_factory=dict)  # POSIX seconds, UTC: mtime, birth...
    mode: int | None = None
    origin: str | None = None  # the name the source itself uses, when it differs from path
    link_target: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    opener: Callable[[], BinaryIO] | None = field(default=None, repr=False, compare=False)

    def open(self) -> BinaryIO:
        if self.opener is None:
            raise OSError(f"{self.path}: not a readable file ({self.kind})")
        return self.opener()


@dataclass(frozen=True)
class Problem:
    """Something wrong inside an opened source; the run records it and goes on."""

    path: str  # evidence path ("" for the source as a whole)
    stage: str  # open, acquire, decrypt, parse, store, ...
    message: str
    offset: int | None = None
    origin: str | None = None


class Source(ABC):
    """A context manager over one input: ``with source: source.entries()``.

    ``open()`` raises an :mod:`acquisition.errors` exception when the input cannot be
    opened at all (missing, wrong password); nothing about the source may be written
    before it returns.
    """

    kind: ClassVar[str] = "folder"

    def __init__(self, location: str) -> None:
        self.location = location

    @classmethod
    def probe(cls, path: Path) -> bool:
        """Whether this kind of source can read ``path``, judged by its content."""
        return False

    def __enter__(self) -> Source:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:  # noqa: B027 - optional hook
        """Check the input and read what is needed to list it."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release file handles."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Identifiers and facts for case.json (UDID, OS version, encrypted...)."""

    @abstractmethod
    def entries(self) -> Iterator[Entry | Problem]:
        """Every entry, and every problem met while listing, in a stable order."""
