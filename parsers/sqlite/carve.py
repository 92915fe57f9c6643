"""Finding records in bytes that no b-tree points to any more.

Two kinds of leftovers:

* **Intact cells** (unallocated space below the cell content area, freelist and older
  page versions): payload length, rowid, record header and body are all there. A
  candidate is accepted only when the payload length equals the header length plus the
  sizes its serial types imply and the types fit a table's columns.
* **Freed cells** (freeblocks): SQLite wrote a 4-byte freeblock header (next pointer,
  size) over the first four bytes of the cell, destroying the payload length, the rowid
  and often the record-header length and first serial type. They are rebuilt from the
  table schema: the surviving serial types must fit the columns, and a lost serial type
  is solved from the freeblock's size. Confidence says how much was guessed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from parsers.sqlite import btree
from parsers.sqlite.errors import SqliteFormatError
from parsers.sqlite.record import (
    body_size,
    decode_body,
    read_varint,
    serial_kind,
    serial_size,
    varint_len,
)
from parsers.sqlite.schema import Table, type_score

CONF_POINTER = 0.95  # a cell reached through a cell pointer of an older/freed page
CONF_INTACT = 0.9  # a whole cell found by signature
CONF_HEADER_LOST = 0.8  # payload length and rowid lost, every serial type survived
CONF_ALIAS = 0.75  # first serial type lost, but it is the rowid alias (always NULL)
CONF_TYPE_SOLVED = 0.6  # first serial type lost, solved exactly from the freeblock size
CONF_TYPE_BOUNDED = 0.5  # first serial type lost, its size fits what follows loosely
CONF_TYPE_GUESSED = 0.35  # first serial type lost, guessed from the column affinity
UNMATCHED_FACTOR = 0.6  # no table fits the record
PARTIAL_FACTOR = 0.5  # the overflow chain could not be followed; trailing values missing

_CONTROL = re.compile("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\ufffd]")

_NONZERO = re.compile(b"[^\x00]")

OverflowFetch = Callable[[int, int], bytes]


@dataclass
class Carved:
    offset: int  # in the page
    end: int
    values: list[object]
    table: Table | None
    rowid: int | None
    confidence: float
    complete: bool = True
    guessed_first: bool = False  # the first stored column was solved or guessed
    header_at: int | None = None  # where the surviving record header starts


def _kinds(types: list[int]) -> list[str]:
    return [serial_kind(t) for t in types]


def match_table(types: list[int], tables: list[Table], owner: str | None):
    """Best table for these serial types: (table, confidence factor).

    The owner of the page wins a tie; a tie the owner does not settle (two tables of
    the same shape) costs a little confidence.
    """
    kinds = _kinds(types)
    scored = []
    for table in tables:
        score = type_score(kinds, table)
        if score < 0.999:
            continue
        exact = len(kinds) == len(table.stored_columns())
        scored.append((exact, table.name == owner, table))
    if not scored:
        return None, 0.0
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    exact, owned, best = scored[0]
    rivals = sum(1 for s in scored[1:] if s[0] == exact)
    return best, 1.0 if owned or not rivals else 0.9


def _plausible(values: list[object]) -> bool:
    """Reject readings of zeroed or junk space.

    Carved bytes are only believed when they look like data: some values present,
    text without control characters, blobs that are not just zeros.
    """
    present = [v for v in values if v is not None and v != "" and v != b""]
    if len(present) < min(2, len(values)) or 3 * len(present) < len(values):
        return False
    for v in values:
        if isinstance(v, str) and _CONTROL.search(v):
            return False
        if isinstance(v, bytes) and len(v) >= 8 and not v.strip(b"\x00"):
            return False
    return True


def _weirdness(values: list[object]) -> int:
    """Count values that are valid but unlikely: the sign of a misaligned reading."""
    weird = 0
    for v in values:
        if isinstance(v, float) and (
            math.isnan(v) or math.isinf(v) or abs(v) > 1e15 or 0 < abs(v) < 1e-9
        ):
            weird += 1
        elif isinstance(v, float) and v.is_integer():
            weird += 1  # SQLite stores integral reals in numeric columns as integers
    return weird


def to_columns(table: Table | None, values: list[object], rowid: int | None) -> list[object]:
    """Reorder stored values into declared column order and fill the rowid alias."""
    if table is None or not table.columns:
        return values
    cols = table.stored_columns()
    vals = list(values) + [None] * (len(cols) - len(values))
    by_name = dict(zip([c.name for c in cols], vals, strict=False))
    out = []
    for col in table.columns:
        v = by_name.get(col.name)
        if col.rowid_alias and v is None and rowid is not None:
            v = rowid
        out.append(v)
    return out


class Carver:
    def __init__(
        self,
        usable: int,
        encoding: int,
        tables: list[Table],
        fetch_overflow: OverflowFetch | None = None,
    ) -> None:
        self.usable = usable
        self.encoding = encoding
        self.tables = [t for t in tables if t.columns]
        self.fetch_overflow = fetch_overflow
        self.widths = sorted({len(t.stored_columns()) for t in self.tables})
        self.max_cols = max(self.widths, default=64)
        self.max_header = 1 + 9 * self.max_cols

    # -- shared pieces -----------------------------------------------------------------
    def _body(self, page: bytes, types: list[int], header_start: int, header_len: int, limit: int):
        """Decode the record body starting after the header; follow overflow if needed.

        Returns (values, cell end, complete) or None when the bytes do not fit.
        """
        payload = header_len + body_size(types)
        local = btree.local_size(payload, self.usable, btree.LEAF_TABLE)
        if local < header_len:
            return None
        if header_start + local > limit:
            return None
        end = header_start + local
        data = page[header_start : header_start + local]
        complete = True
        if local < payload:
            if end + 4 > limit:
                return None
            first = int.from_bytes(page[end : end + 4], "big")
            end += 4
            extra = b""
            if self.fetch_overflow is not None and first:
                try:
                    extra = self.fetch_overflow(first, payload - local)
                except SqliteFormatError:
                    extra = b""
            data = data + extra
            complete = len(data) >= payload
        if complete:
            try:
                values = decode_body(types, data, header_len, self.encoding, strict_text=True)
            except SqliteFormatError:
                return None
        else:
            values = self._partial(types, data, header_len)
            if values is None:
                return None
        return values, end, complete

    def _partial(self, types: list[int], data: bytes, pos: int):
        values: list[object] = []
        for stype in types:
            n = serial_size(stype)
            if pos + n > len(data):
                values.append(None)
                pos = len(data) + 1
                continue
            try:
                values.extend(decode_body([stype], data, pos, self.encoding, strict_text=True))
            except SqliteFormatError:
                return None
            pos += n
        return values

    # -- intact cells ------------------------------------------------------------------
    def intact(self, page: bytes, pos: int, limit: int, owner: str | None) -> Carved | None:
        # Fast rejection first: this runs at every byte offset of every free region.
        first = page[pos]
        if first == 0:
            return None
        try:
            if first < 0x80:
                payload, p = first, pos + 1
            else:
                payload, p = read_varint(page, pos, limit)
            if page[p] < 0x80:
                rowid, p = page[p], p + 1
            else:
                rowid, p = read_varint(page, p, limit)
            hstart = p
            header_len = page[p] if p < limit else 0
            if header_len >= 0x80:
                header_len, _ = read_varint(page, p, limit)
            if header_len < 2 or header_len > payload or header_len > self.max_header:
                return None
            p += 1 if header_len < 0x80 else 2
            hend = hstart + header_len
            if hend > limit:
                return None
            types = []
            max_cols = self.max_cols
            while p < hend:
                t = page[p]
                if t < 0x80:
                    p += 1
                else:
                    t, p = read_varint(page, p, hend)
                if t in (10, 11):
                    return None
                types.append(t)
                if len(types) > max_cols:
                    return None
            if p != hend or payload != header_len + body_size(types):
                return None
        except (SqliteFormatError, IndexError):
            return None
        table, factor = match_table(types, self.tables, owner)
        if table is None and (self.tables or len(types) < 2):
            return None
        body = self._body(page, types, hstart, header_len, limit)
        if body is None:
            return None
        values, end, complete = body
        if not _plausible(values) or _weirdness(values):
            return None
        if rowid >= 1 << 63:
            rowid -= 1 << 64
        conf = CONF_INTACT * (factor if table else UNMATCHED_FACTOR)
        if not complete:
            conf *= PARTIAL_FACTOR
        return Carved(
            pos, max(end, pos + 4), to_columns(table, values, rowid), table, rowid, conf, complete
        )

    # -- freed cells -------------------------------------------------------------------
    @staticmethod
    def _freeblock_like(page: bytes, pos: int, usable: int) -> bool:
        nxt = (page[pos] << 8) | page[pos + 1]
        size = (page[pos + 2] << 8) | page[pos + 3]
        return (nxt == 0 or pos < nxt < usable) and 4 <= size <= usable - pos

    def freed(
        self,
        page: bytes,
        pos: int,
        limit: int,
        owner: str | None,
        exact_end: int | None,
        lookahead: bool = True,
    ) -> Carved | None:
        """Rebuild a cell whose first four bytes were overwritten by a freeblock header.

        Among the readings that fit a table, the one whose end lines up with what
        follows (the freeblock's end, or another cell) wins; a lost first serial type
        is only trusted as far as that alignment supports it.
        """
        best: Carved | None = None
        best_rank: tuple = ()
        for table in self._ordered(owner):
            cols = table.stored_columns()
            n = len(cols)
            # Two informative columns are too little evidence on their own: such a
            # reading must also end where its freeblock, region or a next cell begins.
            thin = n - sum(c.rowid_alias for c in cols) <= 2
            for cand in self._freed_for(page, pos, limit, table, n, exact_end):
                if not _plausible(cand.values) or _weirdness(cand.values):
                    continue
                cont, slack = self._continuation(page, cand.end, limit, owner, exact_end, lookahead)
                if thin and cont < 2:
                    continue
                if cand.guessed_first and cand.confidence < CONF_ALIAS:
                    cand.confidence = min(
                        cand.confidence,
                        (CONF_TYPE_GUESSED, CONF_TYPE_BOUNDED, CONF_TYPE_SOLVED)[min(cont, 2)],
                    )
                rank = (
                    cont,
                    -slack,
                    -_weirdness(cand.values),
                    cand.confidence,
                    table.name == owner,
                )
                if not best_rank or rank > best_rank:
                    best, best_rank = cand, rank
        return best

    def _continuation(self, page, end, limit, owner, exact_end, lookahead) -> tuple[int, int]:
        """How well a candidate's end lines up: (2 exact, 1 plausible, 0 unknown; slack).

        A region ends at a live cell or the page end, and a freeblock at its size;
        up to three fragment bytes may sit in between.
        """
        if exact_end is not None and exact_end - 3 <= end <= exact_end:
            return 3, exact_end - end
        if limit - 3 <= end <= limit:
            return 2, limit - end
        if not lookahead:
            return 0, 0
        if self.intact(page, end, limit, owner) is not None:
            return 2, 0
        if self._freeblock_like(page, end, self.usable):
            nxt = self.freed(page, end, limit, owner, exact_end, lookahead=False)
            if nxt is not None and not nxt.guessed_first:
                return 2, 0
            if nxt is not None:
                return 1, 0
        if all(b == 0 for b in page[end : min(limit, end + 4)]):
            return 1, 0
        return 0, 0

    def _ordered(self, owner: str | None) -> list[Table]:
        return sorted(self.tables, key=lambda t: t.name != owner)

    def _read_types(self, page: bytes, p: int, count: int, limit: int):
        types = []
        for _ in range(count):
            t, p = read_varint(page, p, limit)
            if t in (10, 11):
                raise SqliteFormatError("reserved serial type", p)
            types.append(t)
        return types, p

    def _freed_for(
        self, page: bytes, pos: int, limit: int, table: Table, n: int, exact_end: int | None
    ):
        cols = table.stored_columns()
        # (a) one lost byte of header: the header-length byte; every serial type survives.
        try:
            types, _ = self._read_types(page, pos + 4, n, limit)
        except SqliteFormatError:
            types = None
        if types is not None:
            header_len = 1 + sum(varint_len(t) for t in types)
            if header_len < 128:
                cand = self._accept(
                    page, pos, pos + 4 - 1, header_len, types, table, limit, CONF_HEADER_LOST
                )
                if cand is not None:
                    yield cand
        # (c) payload length and rowid took four bytes or more (both >= 128): the whole
        # record header survived right after the overwritten bytes.
        for q in (4, 5, 6):
            try:
                header_len, p = read_varint(page, pos + q, limit)
                if not n + 1 <= header_len <= 1 + 9 * n:
                    continue
                types = self._read_types(page, p, n, limit)[0]
            except SqliteFormatError:
                continue
            if sum(varint_len(t) for t in types) + varint_len(header_len) != header_len:
                continue
            cand = self._accept(
                page, pos, pos + q, header_len, types, table, limit, CONF_HEADER_LOST
            )
            if cand is not None:
                yield cand
        # (b) header-length byte and the first serial type lost (1-byte payload, 1-byte rowid).
        if n < 2:
            return
        for two_byte in (False, True):
            start = pos + 4 + (1 if two_byte else 0)
            if two_byte and (start > limit or page[pos + 4] >= 0x80):
                continue
            try:
                rest, _ = self._read_types(page, start, n - 1, limit)
            except SqliteFormatError:
                continue
            rest_kinds = _kinds(rest)
            if type_score(["?", *rest_kinds], table) < 0.999:
                continue
            for first, conf in self._first_type_candidates(
                page, pos, rest, cols[0], two_byte, limit, exact_end
            ):
                types = [first, *rest]
                header_len = 1 + sum(varint_len(t) for t in types)
                if header_len >= 128:
                    continue
                cand = self._accept(page, pos, pos + 2, header_len, types, table, limit, conf)
                if cand is not None:
                    yield cand

    def _first_type_candidates(self, page, pos, rest, col, two_byte, limit, exact_end):
        """Serial types the lost first column could have had, with a confidence each."""
        fixed = (2 if two_byte else 1) + 1  # header length byte + the first type
        header_len = fixed + sum(varint_len(t) for t in rest)
        known = body_size(rest)
        body_start = pos + 2 + header_len
        if col.rowid_alias:
            yield 0, CONF_ALIAS  # an INTEGER PRIMARY KEY is always stored as NULL
            return
        solved = False
        for boundary in dict.fromkeys(b for b in (exact_end, limit) if b is not None):
            for slack in range(4):  # freeblocks may absorb up to 3 fragment bytes
                d = boundary - slack - body_start - known
                if d < 0:
                    break
                for t in self._types_of_size(d, col.affinity, two_byte, page[pos + 4]):
                    solved = True
                    yield t, CONF_TYPE_SOLVED if d else CONF_TYPE_GUESSED
                if solved:
                    break
        if two_byte:
            return
        for t in self._guesses(col.affinity):
            yield t, CONF_TYPE_GUESSED

    @staticmethod
    def _types_of_size(d: int, aff: str, two_byte: bool, low: int):
        out: list[int] = []
        ints = {0: [0, 8, 9], 1: [1], 2: [2], 3: [3], 4: [4], 6: [5], 8: [6, 7]}
        if not two_byte:
            if aff in ("INTEGER", "NUMERIC", "REAL", "BLOB"):
                for t in ints.get(d, []):
                    if t == 7 and aff == "INTEGER":
                        continue
                    if t == 6 and aff == "REAL":
                        continue
                    out.append(t)
            if aff in ("TEXT", "NUMERIC", "BLOB") and 13 + 2 * d < 128:
                out.append(13 + 2 * d)
            if aff in ("BLOB",) and 12 + 2 * d < 128:
                out.append(12 + 2 * d)
            if d == 0 and aff == "TEXT":
                out.insert(0, 0)
            return out
        for t in (13 + 2 * d, 12 + 2 * d):
            if 128 <= t < 16384 and (t & 0x7F) == low:
                if t % 2 == 1 and aff not in ("TEXT", "NUMERIC", "BLOB"):
                    continue
                if t % 2 == 0 and aff != "BLOB":
                    continue
                out.append(t)
        return out

    @staticmethod
    def _guesses(aff: str) -> list[int]:
        if aff == "INTEGER":
            return [1, 2, 3, 4, 5, 6, 0, 8, 9]
        if aff == "REAL":
            return [7, 1, 2, 3, 4, 5, 6, 0, 8, 9]
        return []

    def _accept(self, page, pos, hstart, header_len, types, table, limit, conf) -> Carved | None:
        if type_score(_kinds(types), table) < 0.999:
            return None
        body = self._body(page, types, hstart, header_len, limit)
        if body is None:
            return None
        values, end, complete = body
        if not complete:
            conf *= PARTIAL_FACTOR
        return Carved(
            pos,
            max(end, pos + 4),
            to_columns(table, values, None),
            table,
            None,
            conf,
            complete,
            guessed_first=hstart == pos + 2,
            header_at=hstart,
        )

    def _explained_later(self, page, pos, end, owner, found: Carved | None) -> bool:
        """Does a whole cell starting inside the "overwritten" bytes explain the header?

        Then the intact reading, which keeps the rowid, should have it.
        """
        if found is None or found.header_at is None or found.header_at <= pos + 4:
            return False
        return any(
            self.intact(page, s, end, owner) is not None for s in range(pos + 1, found.header_at)
        )

    # -- regions -----------------------------------------------------------------------
    def scan(
        self,
        page: bytes,
        start: int,
        end: int,
        owner: str | None,
        starts: dict[int, int] | None = None,
        try_freed: bool = True,
    ) -> list[Carved]:
        """Carve records from ``page[start:end]``.

        ``starts`` maps known freeblock offsets to their ends: a cell is known to start
        there, and its record must end there (or earlier when blocks were merged).
        """
        out: list[Carved] = []
        starts = starts or {}
        pos = start
        block_end: int | None = None
        while pos + 4 <= end:
            if page[pos] == 0 and pos not in starts:
                # Zeroed space holds no record; a freeblock header may begin at most
                # three bytes before the next non-zero byte.
                m = _NONZERO.search(page, pos, end)
                if m is None:
                    break
                if m.start() - 3 > pos:
                    pos = m.start() - 3
                    continue
            if pos in starts:
                block_end = starts[pos]
            exact = block_end if block_end is not None and pos < block_end else None
            found = self.intact(page, pos, end, owner)
            if (
                found is None
                and try_freed
                and (pos in starts or self._freeblock_like(page, pos, self.usable))
            ):
                lim = min(end, exact) if exact is not None else end
                found = self.freed(page, pos, lim, owner, exact)
            if self._explained_later(page, pos, end, owner, found):
                found = None
            if found is not None:
                out.append(found)
                pos = found.end
                continue
            pos += 1
        return out
