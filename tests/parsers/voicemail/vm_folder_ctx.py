"""A small Context over a folder of files, for parser tests (no application needed)."""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import tempfile
from pathlib import Path

from parsers.base import Item


def make_item(root: Path, path: str) -> Item:
    local = root / path
    data = local.read_bytes()
    return Item(path, local, len(data), hashlib.sha256(data).hexdigest())


class FolderContext:
    """Every regular file under ``root`` is a stored item named by its relative path."""

    def __init__(self, root: Path, source_kind: str = "fs-extraction") -> None:
        self.root = Path(root)
        self.source_kind = source_kind
        self._scratch_root = Path(tempfile.mkdtemp(prefix="vmf-scratch-"))
        self._counter = itertools.count()

    def paths(self) -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()
        )

    def get(self, path: str) -> Item | None:
        local = self.root / path
        return make_item(self.root, path) if local.is_file() else None

    def glob(self, pattern: str) -> list[Item]:
        return [make_item(self.root, p) for p in self.paths() if fnmatch.fnmatchcase(p, pattern)]

    def scratch(self) -> Path:
        folder = self._scratch_root / str(next(self._counter))
        folder.mkdir()
        return folder

    def item(self, path: str) -> Item:
        found = self.get(path)
        assert found is not None, path
        return found
