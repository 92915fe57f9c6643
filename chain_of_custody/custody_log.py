"""The hash-chained custody log: one canonical JSON object per line.

Each line carries ``prev_sha256``, the SHA-256 of the previous line's bytes (without its
newline); the first line chains to the SHA-256 of the case header as first written.
Editing, deleting or reordering any line breaks the chain at a line that
:func:`verify_chain` names.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def canonical(obj: Any) -> bytes:
    """The one byte form of a JSON value we hash: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    broken_at: int | None = None  # 1-based line number of the first bad line
    message: str = ""


class CustodyLog:
    REQUIRED = ("seq", "time_utc", "event", "actor", "tool", "detail", "prev_sha256")

    def __init__(self, path: Path, genesis_sha256: str) -> None:
        self.path = Path(path)
        self.genesis = genesis_sha256
        self._last_hash, self._seq = self._tail()

    def _tail(self) -> tuple[str, int]:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return self.genesis, 0
        last = b""
        with open(self.path, "rb") as f:
            for line in f:
                if line.strip():
                    last = line.rstrip(b"\n")
        return hashlib.sha256(last).hexdigest(), int(json.loads(last)["seq"])

    @property
    def head(self) -> str:
        return self._last_hash

    def append(
        self,
        event: str,
        *,
        actor: str,
        tool: str,
        time_utc: str,
        detail: dict[str, Any],
        sync: bool = True,
    ) -> dict[str, Any]:
        """Append one event; ``sync=False`` skips the fsync for bulk events (call sync())."""
        entry = {
            "seq": self._seq + 1,
            "time_utc": time_utc,
            "event": event,
            "actor": actor,
            "tool": tool,
            "detail": detail,
            "prev_sha256": self._last_hash,
        }
        line = canonical(entry)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "ab") as f:
            f.write(line + b"\n")
            if sync:
                f.flush()
                os.fsync(f.fileno())
        self._last_hash = hashlib.sha256(line).hexdigest()
        self._seq += 1
        return entry

    def sync(self) -> None:
        if self.path.exists():
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def read_events(path: Path) -> list[dict[str, Any]]:
    with open(path, "rb") as f:
        return [json.loads(line) for line in f if line.strip()]


def verify_chain(path: Path, genesis_sha256: str) -> ChainReport:
    """Walk the log; report the first line whose link, sequence or shape is wrong."""
    prev = genesis_sha256
    count = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            line = raw.rstrip(b"\n")
            try:
                entry = json.loads(line)
            except ValueError:
                return ChainReport(False, count, number, f"line {number} is not JSON")
            if not isinstance(entry, dict) or any(k not in entry for k in CustodyLog.REQUIRED):
                return ChainReport(False, count, number, f"line {number} lacks required fields")
            if entry["prev_sha256"] != prev:
                return ChainReport(
                    False,
                    count,
                    number,
                    f"line {number}: prev_sha256 {entry['prev_sha256']} does not match "
                    f"the previous entry's hash {prev}",
                )
            if entry["seq"] != number:
                return ChainReport(False, count, number, f"line {number}: seq is {entry['seq']}")
            prev = hashlib.sha256(line).hexdigest()
            count += 1
    return ChainReport(True, count, None, f"{count} events, chain intact")
