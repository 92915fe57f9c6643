"""Manifest.db rows and the NSKeyedArchiver ``MBFile`` blob each carries."""

from __future__ import annotations

import plistlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAG_KIND = {1: "file", 2: "dir", 4: "symlink"}


@dataclass(frozen=True)
class ManifestRow:
    file_id: str
    domain: str
    relative_path: str
    flags: int
    mbfile: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    @property
    def kind(self) -> str:
        return FLAG_KIND.get(self.flags, "other")


def decode_mbfile(blob: bytes | None) -> dict[str, Any]:
    """Flatten the archived MBFile: UIDs resolved, ``NS.data`` unwrapped to bytes."""
    if not blob:
        return {}
    archive = plistlib.loads(blob)
    objects = archive["$objects"]
    top = archive["$top"]["root"]

    def resolve(value: Any, depth: int = 0) -> Any:
        if depth > 8:
            return None
        if isinstance(value, plistlib.UID):
            value = objects[value.data]
        if isinstance(value, dict):
            if "NS.data" in value:
                return resolve(value["NS.data"], depth + 1)
            if "NS.string" in value:
                return value["NS.string"]
        return value

    root = objects[top.data] if isinstance(top, plistlib.UID) else top
    out: dict[str, Any] = {}
    for key, value in root.items():
        if key == "$class":
            continue
        out[key] = resolve(value)
    return out


QUERY = (
    "SELECT fileID, domain, relativePath, flags, file FROM Files "
    "ORDER BY domain, relativePath, fileID"
)


def check_rows(db_path: Path) -> None:
    """Raise ``sqlite3.Error`` when the rows cannot be listed (no ``Files`` table, damaged
    pages): the sort reads every row, so the first fetch meets any damage."""
    uri = f"file:{db_path}?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True)
    try:
        conn.execute(QUERY).fetchone()
    finally:
        conn.close()


def read_rows(db_path: Path) -> Iterator[ManifestRow]:
    """Rows of ``Files`` in a stable order (domain, relativePath); read-only."""
    uri = f"file:{db_path}?mode=ro&immutable=1"
    with sqlite3.connect(uri, uri=True) as conn:
        conn.text_factory = lambda b: b.decode("utf-8", "surrogateescape")
        cur = conn.execute(QUERY)
        for file_id, domain, rel, flags, blob in cur:
            problem = None
            try:
                mbfile = decode_mbfile(blob)
            except Exception as exc:  # a corrupt blob is one bad row, not a bad backup
                mbfile, problem = {}, f"MBFile blob undecodable: {type(exc).__name__}"
            yield ManifestRow(
                str(file_id or ""),
                str(domain or ""),
                str(rel or ""),
                int(flags or 0),
                mbfile,
                problem,
            )
