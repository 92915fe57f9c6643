"""Listings of an offline source on disk, taken before and after a run.

The forensic rules ask that we show a source was not modified: the listing (path,
size, mtime in ns, mode) is cheap to take for any folder or file, and any difference
between before and after is reported.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Listing:
    rows: tuple[tuple[str, int, int, int], ...]  # (relpath, size, mtime_ns, mode)

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.rows).encode()).hexdigest()

    def diff(self, other: Listing) -> list[str]:
        mine = {r[0]: r for r in self.rows}
        theirs = {r[0]: r for r in other.rows}
        out = [f"removed: {p}" for p in sorted(mine.keys() - theirs.keys())]
        out += [f"added: {p}" for p in sorted(theirs.keys() - mine.keys())]
        out += [
            f"changed: {p}" for p in sorted(mine.keys() & theirs.keys()) if mine[p] != theirs[p]
        ]
        return out


def snapshot(path: str | Path) -> Listing:
    """List a file, or every object under a folder (symlinks not followed)."""
    root = Path(path)
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode):
        return Listing(((root.name, st.st_size, st.st_mtime_ns, st.st_mode),))
    rows = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            try:
                s = os.lstat(full)
            except OSError:
                continue
            rel = os.path.relpath(full, root)
            rows.append(
                (rel, s.st_size if not stat.S_ISDIR(s.st_mode) else 0, s.st_mtime_ns, s.st_mode)
            )
    rows.sort()
    return Listing(tuple(rows))
