"""The write-ahead log: header, frames, salts, checksum chain, commit frames.

A WAL holds every version of a page written since the last checkpoint reset, and
frames from earlier generations survive beyond the current one (their salts differ).
SQLite only trusts the run of frames whose salts match and whose cumulative checksum
holds; the last commit frame in that run defines the committed database. Every other
frame is still an older (or abandoned) version of a page, and is evidence.
"""

from __future__ import annotations

import struct
from array import array
from dataclasses import dataclass

from parsers.sqlite import formats
from parsers.sqlite.errors import SqliteFormatError
from parsers.sqlite.pagefile import PagedFile

COMMITTED, UNCOMMITTED, STALE = 0, 1, 2
STATE_NAMES = {COMMITTED: "committed", UNCOMMITTED: "uncommitted", STALE: "stale"}
FRAME_HEADER = 24
WAL_HEADER = 32


def valid_page_size(size: int) -> bool:
    return 512 <= size <= 65536 and size & (size - 1) == 0


def wal_checksum(data: bytes, s0: int, s1: int, big_endian: bool) -> tuple[int, int]:
    """The WAL's running Fibonacci-weighted checksum over 32-bit word pairs."""
    words = struct.unpack((">" if big_endian else "<") + f"{len(data) // 4}I", data)
    it = iter(words)
    for x0, x1 in zip(it, it, strict=False):
        s0 = (s0 + x0 + s1) & 0xFFFFFFFF
        s1 = (s1 + x1 + s0) & 0xFFFFFFFF
    return s0, s1


@dataclass(frozen=True)
class WalFrame:
    number: int  # 1-based, as SQLite counts frames
    page_number: int
    commit_size: int
    offset: int  # of the frame header in the WAL file
    state: int

    @property
    def data_offset(self) -> int:
        return self.offset + FRAME_HEADER


class Wal:
    """An index of the frames in a WAL file; page bytes are read on demand."""

    def __init__(self, f: PagedFile, db_page_size: int | None = None) -> None:
        self.file = f
        self.problems: list[SqliteFormatError] = []
        self.page_size = 0
        self.big_endian = False
        self.header = None
        self._pgno = array("L")
        self._commit = array("L")
        self._state = bytearray()
        self.committed: dict[int, int] = {}  # page number -> index of its latest committed frame
        self.db_pages: int | None = None  # database size after the last commit
        self._scan(db_page_size)

    def __len__(self) -> int:
        return len(self._pgno)

    def frame(self, index: int) -> WalFrame:
        return WalFrame(
            index + 1,
            self._pgno[index],
            self._commit[index],
            WAL_HEADER + index * (FRAME_HEADER + self.page_size),
            self._state[index],
        )

    def frames(self):
        for i in range(len(self._pgno)):
            yield self.frame(i)

    def page(self, index: int) -> bytes:
        return self.file.read_at(
            WAL_HEADER + index * (FRAME_HEADER + self.page_size) + FRAME_HEADER, self.page_size
        )

    def _scan(self, db_page_size: int | None) -> None:
        size = self.file.size
        if size == 0:
            return
        if size < WAL_HEADER:
            self.problems.append(SqliteFormatError("WAL shorter than its 32-byte header", 0))
            return
        raw = self.file.read_at(0, WAL_HEADER)
        hdr = formats.parse(formats.WalHeader, raw, 0, "WAL header")
        self.header = hdr
        trusted = True
        if hdr.magic not in (formats.WAL_MAGIC_LE, formats.WAL_MAGIC_BE):
            self.problems.append(SqliteFormatError("WAL header magic is wrong", 0))
            trusted = False
        self.big_endian = hdr.magic == formats.WAL_MAGIC_BE
        if valid_page_size(hdr.page_size):
            self.page_size = hdr.page_size
        elif db_page_size and valid_page_size(db_page_size):
            self.problems.append(SqliteFormatError("WAL page size invalid; using the db's", 8))
            self.page_size = db_page_size
            trusted = False
        else:
            self.problems.append(SqliteFormatError("WAL page size invalid", 8))
            return
        s0, s1 = wal_checksum(raw[:24], 0, 0, self.big_endian)
        if trusted and (s0, s1) != (hdr.checksum1, hdr.checksum2):
            self.problems.append(SqliteFormatError("WAL header checksum mismatch", 24))
            trusted = False
        frame_len = FRAME_HEADER + self.page_size
        count = (size - WAL_HEADER) // frame_len
        if (size - WAL_HEADER) % frame_len:
            self.problems.append(
                SqliteFormatError("WAL ends in a partial frame", WAL_HEADER + count * frame_len)
            )
        last_commit = -1
        pending: dict[int, int] = {}
        for i in range(count):
            off = WAL_HEADER + i * frame_len
            data = self.file.read_at(off, frame_len)
            pgno, commit, salt1, salt2, c1, c2 = struct.unpack_from(">6I", data, 0)
            self._pgno.append(pgno)
            self._commit.append(commit)
            ok = trusted and salt1 == hdr.salt1 and salt2 == hdr.salt2 and pgno != 0
            if ok:
                t0, t1 = wal_checksum(data[:8], s0, s1, self.big_endian)
                t0, t1 = wal_checksum(data[FRAME_HEADER:], t0, t1, self.big_endian)
                ok = (t0, t1) == (c1, c2)
            if not ok:
                trusted = False  # SQLite stops at the first frame that fails
                self._state.append(STALE)
                continue
            s0, s1 = t0, t1
            self._state.append(UNCOMMITTED)
            pending[pgno] = i
            if commit:
                last_commit = i
                self.committed.update(pending)
                pending.clear()
                self.db_pages = commit
        for i in range(last_commit + 1):
            if self._state[i] == UNCOMMITTED:
                self._state[i] = COMMITTED
