"""The parsers' view of one source's stored files (implements ``parsers.base.Context``)."""

from __future__ import annotations

import fnmatch
import tempfile
from pathlib import Path

from parsers.base import Item


class ScanContext:
    def __init__(self, items: dict[str, Item], tmp: Path, source_kind: str) -> None:
        self._items = items
        self._tmp = tmp
        self.source_kind = source_kind

    def get(self, path: str) -> Item | None:
        return self._items.get(path)

    def glob(self, pattern: str) -> list[Item]:
        return [self._items[p] for p in sorted(self._items) if fnmatch.fnmatchcase(p, pattern)]

    def scratch(self) -> Path:
        self._tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="parse-", dir=self._tmp))

    def items(self) -> list[Item]:
        return [self._items[p] for p in sorted(self._items)]
