"""Entries of an opened source → stored copies, entries.jsonl, custody events, errors.

Each file is copied into the evidence store and hashed in the same read pass. A read
that fails part-way keeps what was read (nothing lost) and says where it stopped.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from acquisition.base import Entry, EntryKind, Problem, Source
from acquisition.errors import EntryReadError
from chain_of_custody.store import EvidenceStore
from parsers.base import Item
from vmforensics.artifacts import error_line
from vmforensics.case import Case
from vmforensics.progress import Progress


class _Guarded(io.RawIOBase):
    """Ends the stream quietly at the first read error and remembers it.

    Reads with ``read1`` when the stream has it: a buffered stream's ``read(n)`` gathers
    several raw reads and throws them all away if a later one raises (a failing disk
    under ``open(path, "rb")``), while ``read1`` makes one raw read, so every byte the
    medium gave before failing reaches the store. Any exception ends the entry, not the
    run: source libraries raise more than OSError on hostile bytes.
    """

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        own_read1 = getattr(type(inner), "read1", io.BufferedIOBase.read1)
        self._read = inner.read if own_read1 is io.BufferedIOBase.read1 else inner.read1  # type: ignore[attr-defined]
        self.error: EntryReadError | OSError | None = None
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.error is not None:
            return 0
        try:
            data = self._read(len(buffer))
        except Exception as exc:
            if not isinstance(exc, OSError):
                exc = OSError(f"{type(exc).__name__}: {exc}")
            self.error = exc
            return 0
        if not data:
            return 0
        n = len(data)
        buffer[:n] = data
        self.read_bytes += n
        return n


@dataclass
class Ingested:
    items: dict[str, Item] = field(default_factory=dict)
    origins: dict[str, str | None] = field(default_factory=dict)
    lines: list[dict[str, Any]] = field(default_factory=list)
    entries: int = 0
    files: int = 0
    bytes: int = 0
    in_place: list[Entry] = field(default_factory=list)  # raw images: carved where they lie


def ingest(case: Case, source: Source, sid: str, out: Path, progress: Progress) -> Ingested:
    store = case.store
    result = Ingested()
    progress.stage(f"{sid}: storing", None)
    with open(out, "w", encoding="utf-8") as listing:
        for ent in source.entries():
            if isinstance(ent, Problem):
                result.lines.append(
                    error_line(
                        ent.path, ent.stage, ent.message, sid, offset=ent.offset, origin=ent.origin
                    )
                )
                continue
            result.entries += 1
            row = _entry_row(ent)
            if ent.kind is EntryKind.FILE and ent.meta.get("in_place"):
                result.in_place.append(ent)
                row["stored"] = False
            elif ent.kind is EntryKind.FILE:
                row.update(_store(case, store, ent, sid, result))
            listing.write(json.dumps(row, ensure_ascii=False) + "\n")
            progress.advance()
    case.log.sync() if case.log else None
    return result


def _entry_row(ent: Entry) -> dict[str, Any]:
    return {
        "evidence_path": ent.path,
        "origin_path": ent.origin,
        "kind": str(ent.kind),
        "size": ent.size,
        "times": ent.times,
        "mode": ent.mode,
        "link_target": ent.link_target,
    }


def _store(
    case: Case, store: EvidenceStore, ent: Entry, sid: str, result: Ingested
) -> dict[str, Any]:
    try:
        stream = ent.open()
    except (OSError, EntryReadError, ValueError) as exc:
        result.lines.append(
            error_line(ent.path, "acquire", f"cannot read: {exc}", sid, origin=ent.origin)
        )
        return {"stored": False}
    guarded = _Guarded(stream)
    try:
        obj = store.ingest(io.BufferedReader(guarded, 1 << 20))
    finally:
        stream.close()
    if guarded.error is not None:
        offset = getattr(guarded.error, "offset", None)
        result.lines.append(
            error_line(
                ent.path,
                "acquire",
                f"read stopped after {guarded.read_bytes} bytes, kept what was read: "
                f"{guarded.error}",
                sid,
                offset=offset if offset is not None else guarded.read_bytes,
                origin=ent.origin,
            )
        )
    item = Item(ent.path, obj.path, obj.size, obj.sha256, ent.origin)
    result.items[ent.path] = item
    result.origins[ent.path] = ent.origin
    result.files += 1
    result.bytes += obj.size
    case.event(
        "stored",
        {
            "source": sid,
            "evidence_path": ent.path,
            "origin_path": ent.origin,
            "sha256": obj.sha256,
            "size": obj.size,
            "complete": guarded.error is None,
        },
        sync=False,
    )
    return {
        "sha256": obj.sha256,
        "sha1": obj.sha1,
        "md5": obj.md5,
        "stored": True,
        "stored_size": obj.size,
    }
