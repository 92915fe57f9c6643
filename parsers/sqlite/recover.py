"""Deleted-record recovery: the public API.

``recover()`` reads the committed database with our own reader, remembers every live
row, then searches, in this order: free space inside live table pages (freeblocks and
the unallocated gap), freelist pages, pages no b-tree owns, db-file pages the WAL has
superseded, every older WAL frame, and the rollback journal. Each record found is
matched to a table by column count and types and reported once: rows identical to a
live row, or to a row already reported, are dropped.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from parsers.sqlite import btree
from parsers.sqlite.carve import CONF_POINTER, Carved, Carver, match_table, to_columns
from parsers.sqlite.database import Database, LiveRow, PageRef
from parsers.sqlite.errors import SqliteFormatError
from parsers.sqlite.journal import JournalPage, journal_pages
from parsers.sqlite.pagefile import PagedFile
from parsers.sqlite.pagemaps import Bloom, PageBitmap, PageOwners
from parsers.sqlite.record import decode_record
from parsers.sqlite.schema import Table, parse_create_table
from parsers.sqlite.wal import STALE

Input = BinaryIO | str | Path
# Bugs or bytes no check foresaw: reported as a problem rather than ending the caller.
_SURPRISES = (IndexError, KeyError, ValueError, OverflowError, struct.error, RecursionError)


@dataclass
class RecoveredRow:
    table: str | None  # matched table name, None if unmatched
    values: list[object]  # None/int/float/str/bytes, in column order
    columns: list[str] | None  # column names of the matched table
    rowid: int | None
    recovered: str  # "live" | "wal" | "freelist" | "freeblock" | "unallocated" | "journal"
    page: int | None
    offset: int | None  # byte offset in the file the row was read from (db, wal or journal)
    confidence: float  # 0..1
    file: str  # "db" | "wal" | "journal"
    frame: int | None = None  # WAL frame number when from the WAL


@dataclass
class SqliteProblem:
    file: str
    offset: int | None
    message: str


def _norm(value: object) -> object:
    if isinstance(value, float):
        return ("f", repr(value)) if not math.isnan(value) else ("f", "nan")
    return value


def _masked(table: Table, values: list[object]) -> list[object]:
    """Values with the rowid alias blanked: a freed copy has lost its rowid."""
    return [
        None if col.rowid_alias else v for col, v in zip(table.columns, values, strict=False)
    ] + list(values[len(table.columns) :])


def _live_keys(table: Table, values: list[object]) -> list[bytes]:
    masked = _masked(table, values)
    keys = [_key_bytes(table.name, masked)]
    if not (table.columns and table.columns[0].rowid_alias):
        keys.append(_key_bytes(table.name, masked[1:], tail=True))
    return keys


def _key_bytes(table: str | None, values: list[object], tail: bool = False) -> bytes:
    return repr((tail, table, tuple(_norm(v) for v in values))).encode("utf-8", "replace")


class _Recovery:
    def __init__(
        self, db: PagedFile, wal: PagedFile | None, journal: PagedFile | None, include_live: bool
    ):
        self.dbf, self.walf, self.jf = db, wal, journal
        self.include_live = include_live
        self.live: Bloom | None = None  # sized once the page count is known
        self.seen: set[int] = set()

    # -- output helpers ------------------------------------------------------------------
    def _problem(self, file: str, exc: SqliteFormatError, base: int = 0) -> SqliteProblem:
        off = None if exc.offset is None else exc.offset + base
        return SqliteProblem(file, off, exc.message)

    def _emit(
        self,
        carved: Carved,
        recovered: str,
        ref_page: int | None,
        file: str,
        base: int,
        frame: int | None,
    ):
        table = carved.table
        name = table.name if table else None
        if self._is_live(carved):
            return None
        key = hash(_key_bytes(name, carved.values))
        if key in self.seen:
            return None
        self.seen.add(key)
        return RecoveredRow(
            name,
            carved.values,
            table.column_names if table else None,
            carved.rowid,
            recovered,
            ref_page,
            base + carved.offset,
            round(carved.confidence, 3),
            file,
            frame,
        )

    def _is_live(self, carved: Carved) -> bool:
        """Is this record identical to a live row?

        The Bloom filter answers "certainly not" exactly; a "maybe" is confirmed by
        looking the rowid up in the live table when the rowid is known.
        """
        live = self.live
        if live is None:
            return False
        table = carved.table
        candidates = [table] if table is not None else self.carver.tables
        maybe = False
        for cand in candidates:
            if len(cand.columns) != len(carved.values):
                continue
            masked = _masked(cand, carved.values)
            maybe = _key_bytes(cand.name, masked) in live or (
                (carved.guessed_first or not carved.complete)
                and _key_bytes(cand.name, masked[1:], tail=True) in live
            )
            if maybe:
                break
        if not maybe:
            return False
        if carved.rowid is None or table is None or table.without_rowid:
            return True
        try:
            stored = self.db.find_row(table, carved.rowid)
        except SqliteFormatError:
            return True
        return stored is not None and to_columns(table, stored, carved.rowid) == carved.values

    # -- the run -------------------------------------------------------------------------
    def run(self) -> Iterator[RecoveredRow | SqliteProblem]:
        try:
            db = Database(self.dbf, self.walf)
        except SqliteFormatError as open_error:
            yield self._problem("db", open_error)
            return
        self.db = db
        for file, err in db.problems:
            yield self._problem(file, err)
        tables, others, problems = db.schema()
        for err in problems:
            yield self._problem("db", err)
        self.carver = Carver(db.usable, db.encoding, [db.master, *tables], self._fetch_overflow)
        # Dropped tables: their CREATE statements survive in page 1's free space.
        dropped = self._dropped_tables(tables)
        self.dropped = dropped
        if dropped:
            self.carver = Carver(
                db.usable, db.encoding, [db.master, *tables, *dropped], self._fetch_overflow
            )
        last = max(db.page_count, db.db_file_pages)
        self.live = Bloom()
        owner = PageOwners(last)
        tree_seen = PageBitmap(last)
        overflow_used = PageBitmap(last)
        for table in [db.master, *tables]:
            for row in db.table_rows(table, tree_seen, overflow_used, owner):
                if isinstance(row, SqliteFormatError):
                    yield self._problem("db", row)
                    continue
                out = self._live(row)
                if out is not None:
                    yield out
        for name, root in others:
            for err in db.index_pages(root, tree_seen, owner, "index:" + name):
                yield self._problem("db", err)
        # Pages of dropped tables: walk their old trees from the recovered root pages.
        old_owner: dict[int, str] = {}
        for table in dropped:
            if not 1 < table.root <= db.page_count or table.root in owner:
                continue
            for item in db.walk_btree(table.root, set()):
                if isinstance(item, SqliteFormatError):
                    continue  # a freed page reused as a freelist trunk
                if item[0].number not in owner:
                    old_owner.setdefault(item[0].number, table.name)
        # 1. free space inside live table pages
        for number in owner.numbers():
            if owner[number].startswith("index:"):
                continue
            try:
                ref = db.page(number)
            except SqliteFormatError as page_error:
                yield self._problem("db", page_error)
                continue
            yield from self._guarded(self._carve_live_page(ref, owner[number]), ref.file, number)
        # 2. freelist pages
        trunks, leaves, problems = db.freelist()
        for err in problems:
            yield self._problem("db", err)
        free = PageBitmap(last)
        free |= trunks
        free |= leaves
        for number in (
            sorted({*trunks, *leaves})
            if len(trunks) + len(leaves) < 1 << 16
            else range(1, last + 1)
        ):
            if number not in free:
                continue
            yield from self._carve_page_number(
                number, "freelist", owner.get(number) or old_owner.get(number)
            )
        # 3. pages nothing owns (orphaned by a manipulated freelist, or past the db's end)
        skip = set(db.ptrmap_pages()) | {db.lock_page}
        for number in range(1, last + 1):
            if number in owner or number in free or number in overflow_used or number in skip:
                continue
            if number > db.page_count:
                ref = self._safe(lambda n=number: db.db_file_page(n))
                if ref is not None:
                    yield from self._guarded(
                        self._carve_ref(ref, "unallocated", None), "db", number
                    )
                continue
            yield from self._carve_page_number(number, "unallocated", old_owner.get(number))
        # 4. older versions: db-file pages the WAL superseded, then every other WAL frame
        if db.wal is not None:
            current = set(db.wal.committed.values())
            for number in sorted(db.wal.committed):
                if number <= db.db_file_pages:
                    ref = self._safe(lambda n=number: db.db_file_page(n))
                    if ref is not None:
                        yield from self._guarded(
                            self._carve_ref(ref, "wal", owner.get(number)), "db", number
                        )
            digests: set[bytes] = set()
            for i in range(len(db.wal)):
                if i in current:
                    continue
                frame = db.wal.frame(i)
                try:
                    data = db.wal.page(i)
                except SqliteFormatError as frame_error:
                    yield self._problem("wal", frame_error)
                    continue
                digest = hashlib.blake2b(data, digest_size=16).digest()
                if digest in digests:
                    continue
                digests.add(digest)
                ref = PageRef(frame.page_number, data, "wal", frame.data_offset, frame.number)
                factor = 0.9 if frame.state == STALE else 1.0
                yield from self._guarded(
                    self._carve_ref(ref, "wal", owner.get(frame.page_number), factor),
                    "wal",
                    frame.page_number,
                )
        # 5. the rollback journal
        if self.jf is not None:
            for jpage in journal_pages(self.jf, db.page_size):
                if isinstance(jpage, SqliteFormatError):
                    yield self._problem("journal", jpage)
                    continue
                yield from self._guarded(
                    self._carve_journal_page(jpage, owner), "journal", jpage.page_number
                )

    def _guarded(self, gen, file: str, page: int):
        """Run one page's carving; a surprise in one page must not end the run."""
        try:
            yield from gen
        except SqliteFormatError as exc:
            yield SqliteProblem(file, exc.offset, f"page {page}: {exc.message}")
        except _SURPRISES as exc:
            yield SqliteProblem(file, None, f"page {page}: unexpected {type(exc).__name__}: {exc}")

    def _safe(self, fn):
        try:
            return fn()
        except SqliteFormatError:
            return None

    def _fetch_overflow(self, first: int, need: int) -> bytes:
        return self.db.read_overflow(first, need)

    def _live(self, row: LiveRow) -> RecoveredRow | None:
        values = to_columns(row.table, row.values, row.rowid)
        if self.live is not None:
            for key in _live_keys(row.table, values):
                self.live.add(key)
        if not self.include_live:
            return None
        return RecoveredRow(
            row.table.name,
            values,
            row.table.column_names,
            row.rowid,
            "live",
            row.page.number,
            row.page.offset + row.cell_offset,
            1.0,
            row.page.file,
            row.page.frame,
        )

    def _dropped_tables(self, live: list[Table]) -> list[Table]:
        names = {t.name for t in live}
        out: list[Table] = []
        try:
            ref = self.db.page(1)
        except SqliteFormatError:
            return out
        probe = Carver(self.db.usable, self.db.encoding, [self.db.master])
        found: list[Carved] = []
        try:
            hdr = btree.parse_header(ref.data, 100, self.db.usable)
        except SqliteFormatError:
            return out
        cells = [
            c for c in btree.parse_cells(ref.data, hdr, self.db.usable) if isinstance(c, btree.Cell)
        ]
        blocks, _ = btree.freeblocks(ref.data, hdr, self.db.usable)
        starts = {o: o + s for o, s in blocks}
        for start, end in btree.free_regions(hdr, cells, self.db.usable, hdr.pointers_end):
            found += probe.scan(ref.data, start, end, "sqlite_master", starts)
        for carved in found:
            vals = carved.values
            if (
                len(vals) == 5
                and vals[0] == "table"
                and isinstance(vals[1], str)
                and isinstance(vals[4], str)
            ):
                if vals[1] in names:
                    continue
                table = parse_create_table(
                    vals[1], vals[3] if isinstance(vals[3], int) else 0, vals[4]
                )
                if table.columns:
                    names.add(vals[1])
                    out.append(table)
        return out

    # -- carving pages -------------------------------------------------------------------
    def _carve_live_page(self, ref: PageRef, owner: str):
        db = self.db
        hoff = db.header_offset(ref.number)
        try:
            hdr = btree.parse_header(ref.data, hoff, db.usable)
        except SqliteFormatError:
            return
        cells = [
            c
            for c in btree.parse_cells(ref.data, hdr, db.usable)
            if not isinstance(c, SqliteFormatError)
        ]
        blocks, problems = btree.freeblocks(ref.data, hdr, db.usable)
        for exc in problems:
            exc.message = f"page {ref.number}: {exc.message}"
            yield self._problem(ref.file, exc, ref.offset)
        starts = {o: o + s for o, s in blocks}
        for start, end in btree.free_regions(hdr, cells, db.usable, hdr.pointers_end):
            for part_start, part_end, label in _split(start, end, hdr.content_start):
                for carved in self.carver.scan(ref.data, part_start, part_end, owner, starts):
                    row = self._emit(carved, label, ref.number, ref.file, ref.offset, ref.frame)
                    if row is not None:
                        yield row

    def _carve_page_number(self, number: int, label: str, owner: str | None):
        try:
            ref = self.db.page(number)
        except SqliteFormatError as exc:
            yield self._problem("db", exc)
            return
        yield from self._guarded(self._carve_ref(ref, label, owner), ref.file, number)

    def _carve_journal_page(self, item: JournalPage, owner: PageOwners):
        ref = PageRef(item.page_number, item.data, "journal", item.offset)
        yield from self._carve_ref(
            ref, "journal", owner.get(item.page_number), 1.0 if item.checksum_ok else 0.9
        )

    def _carve_ref(self, ref: PageRef, label: str, owner: str | None, factor: float = 1.0):
        """Carve a whole page that is not live: pointer cells first, then free space."""
        db = self.db
        usable = db.usable
        hoff = db.header_offset(ref.number)
        data = ref.data
        try:
            hdr = btree.parse_header(data, hoff, usable)
        except SqliteFormatError:
            hdr = None
        found: list[Carved] = []
        if hdr is not None and not hdr.is_table:
            return  # index pages hold keys, not rows
        if hdr is not None:
            cells = []
            for cell in btree.parse_cells(data, hdr, usable):
                if isinstance(cell, SqliteFormatError):
                    continue
                cells.append(cell)
                if hdr.kind == btree.LEAF_TABLE:
                    carved = self._pointer_cell(cell, owner)
                    if carved is not None:
                        found.append(carved)
            blocks, _ = btree.freeblocks(data, hdr, usable)
            starts = {o: o + s for o, s in blocks}
            for start, end in btree.free_regions(hdr, cells, usable, hdr.pointers_end):
                found += self.carver.scan(data, start, end, owner, starts)
        else:
            found += self.carver.scan(data, hoff, usable, owner)
        for carved in found:
            carved.confidence *= factor
            row = self._emit(carved, label, ref.number, ref.file, ref.offset, ref.frame)
            if row is not None:
                yield row

    def _pointer_cell(self, cell: btree.Cell, owner: str | None) -> Carved | None:
        complete = True
        payload = cell.local
        if cell.overflow:
            try:
                payload = self.db.payload(cell)
            except SqliteFormatError:
                complete = False
        try:
            types, values = decode_record(payload, self.db.encoding, strict_text=True)
        except SqliteFormatError:
            if complete:
                return None
            return None
        table, factor = match_table(types, self.carver.tables, owner)
        conf = CONF_POINTER * factor if table else CONF_POINTER * 0.6
        return Carved(
            cell.offset,
            cell.offset + cell.size,
            to_columns(table, values, cell.rowid),
            table,
            cell.rowid,
            conf,
            complete,
        )


def _split(start: int, end: int, content_start: int):
    """Split a free region at the cell content start: below is unallocated, above freed."""
    if end <= content_start:
        yield start, end, "unallocated"
    elif start >= content_start:
        yield start, end, "freeblock"
    else:
        yield start, content_start, "unallocated"
        yield content_start, end, "freeblock"


def _open(source: Input | None, name: str) -> PagedFile | None:
    if source is None:
        return None
    return PagedFile(source, name)


def recover(
    db: Input, wal: Input | None = None, journal: Input | None = None, include_live: bool = False
) -> Iterator[RecoveredRow | SqliteProblem]:
    """Yield recovered rows (and, with ``include_live``, live ones) and problems.

    Raises OSError only when a named file cannot be opened; bad content is reported as
    :class:`SqliteProblem` values.
    """
    files: list[PagedFile] = []
    try:
        dbf = PagedFile(db, "db")
        files.append(dbf)
        walf = _open(wal, "wal")
        if walf:
            files.append(walf)
        jf = _open(journal, "journal")
        if jf:
            files.append(jf)
        try:
            yield from _Recovery(dbf, walf, jf, include_live).run()
        except SqliteFormatError as exc:  # a structural error no stage caught
            yield SqliteProblem("db", exc.offset, exc.message)
        except _SURPRISES as exc:
            yield SqliteProblem("db", None, f"unexpected {type(exc).__name__}: {exc}")
    finally:
        for f in files:
            f.close()


def live_rows(db: Input, wal: Input | None = None) -> Iterator[RecoveredRow | SqliteProblem]:
    """The committed state (WAL applied up to its last commit) read with our own reader."""
    files: list[PagedFile] = []
    try:
        dbf = PagedFile(db, "db")
        files.append(dbf)
        walf = PagedFile(wal, "wal") if wal is not None else None
        if walf:
            files.append(walf)
        rec = _Recovery(dbf, walf, None, True)
        try:
            database = Database(dbf, walf)
        except SqliteFormatError as open_error:
            yield SqliteProblem("db", open_error.offset, open_error.message)
            return
        for file, err in database.problems:
            yield rec._problem(file, err)
        tables, _, problems = database.schema()
        for err in problems:
            yield rec._problem("db", err)
        seen: set[int] = set()
        for table in tables:
            for row in database.table_rows(table, seen, set(), {}):
                if isinstance(row, SqliteFormatError):
                    yield rec._problem("db", row)
                else:
                    out = rec._live(row)
                    if out is not None:
                        yield out
    finally:
        for f in files:
            f.close()
