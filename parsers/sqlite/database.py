"""The committed view of a database: db file pages with the WAL applied up to its last
commit, the schema, b-tree traversal, overflow chains, the freelist and pointer maps.

Every page comes with where it was read from (file, offset, WAL frame) so a recovered
row can name its source. Pages are read one at a time through a small cache; every
chain (b-tree children, overflow, freelist trunks) is walked with a visited set so a
loop or a lying pointer becomes an error value, never a hang.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from parsers.sqlite import btree, formats
from parsers.sqlite.errors import SqliteFormatError
from parsers.sqlite.pagefile import PagedFile
from parsers.sqlite.pagemaps import PageBitmap, PageOwners
from parsers.sqlite.record import decode_record
from parsers.sqlite.schema import Table, parse_create_table
from parsers.sqlite.wal import Wal, valid_page_size

LOCK_BYTE_OFFSET = 1 << 30
MAX_ASSEMBLED = 64 << 20  # one row's payload is held whole; larger ones are reported
PageSet = PageBitmap | set[int]
OwnerMap = PageOwners | dict[int, str]
SEQUENCE_SQL = "CREATE TABLE sqlite_sequence(name TEXT NOT NULL, seq INTEGER)"
MASTER_SQL = (
    "CREATE TABLE sqlite_master(type text, name text, tbl_name text, rootpage int, sql text)"
)


@dataclass(frozen=True)
class PageRef:
    number: int
    data: bytes
    file: str  # "db" | "wal"
    offset: int  # of the page's first byte in that file
    frame: int | None = None


@dataclass
class LiveRow:
    table: Table
    rowid: int | None
    values: list[object]
    page: PageRef
    cell_offset: int


class Database:
    def __init__(self, db: PagedFile, wal: PagedFile | None = None) -> None:
        self.db = db
        self.problems: list[tuple[str, SqliteFormatError]] = []
        self._cache: OrderedDict[int, PageRef] = OrderedDict()
        header_bytes = db.read_at(0, 100) if db.size >= 100 else None
        page_size = 0
        if header_bytes is not None:
            if header_bytes[:16] != formats.DB_MAGIC:
                raise SqliteFormatError("not a SQLite 3 database (bad header magic)", 0)
            hdr = formats.parse(formats.DbHeader, header_bytes, 0, "database header")
            page_size = 65536 if hdr.page_size_raw == 1 else hdr.page_size_raw
            if not valid_page_size(page_size):
                raise SqliteFormatError(f"invalid page size {hdr.page_size_raw}", 16)
        elif db.size:
            raise SqliteFormatError("database shorter than its 100-byte header", 0)
        self.wal = Wal(wal, page_size or None) if wal is not None and wal.size else None
        if self.wal is not None:
            for exc in self.wal.problems:
                self.problems.append(("wal", exc))
            if not page_size:
                page_size = self.wal.page_size
            elif self.wal.page_size and self.wal.page_size != page_size:
                self.problems.append(
                    (
                        "wal",
                        SqliteFormatError("WAL page size differs from the db's; WAL ignored", 8),
                    )
                )
                self.wal = None
        if not page_size:
            raise SqliteFormatError("empty database and no usable WAL", 0)
        self.page_size = page_size
        self.db_file_pages = db.size // page_size
        if self.wal is not None and 1 in self.wal.committed:
            header_bytes = self.wal.page(self.wal.committed[1])[:100]
        if header_bytes is None or header_bytes[:16] != formats.DB_MAGIC:
            raise SqliteFormatError("no database header in the db or the WAL", 0)
        self.header = formats.parse(formats.DbHeader, header_bytes, 0, "database header")
        self.usable = page_size - self.header.reserved
        if self.usable < 480:
            raise SqliteFormatError("usable page size below 480 bytes", 20)
        self.encoding = self.header.text_encoding if self.header.text_encoding in (1, 2, 3) else 1
        if self.wal is not None and self.wal.db_pages:
            self.page_count = self.wal.db_pages
        elif self.header.page_count and self.header.version_valid_for == self.header.change_counter:
            self.page_count = self.header.page_count
        else:
            self.page_count = self.db_file_pages
        self.page_count = min(self.page_count, 0xFFFFFFFE)
        self.lock_page = LOCK_BYTE_OFFSET // page_size + 1
        self.master = parse_create_table("sqlite_master", 1, MASTER_SQL)

    # -- pages -------------------------------------------------------------------------
    def page(self, number: int) -> PageRef:
        """The committed version of a page (latest committed WAL frame, else the db file)."""
        ref = self._cache.get(number)
        if ref is not None:
            self._cache.move_to_end(number)
            return ref
        if number < 1 or number > self.page_count:
            raise SqliteFormatError(f"page {number} outside the database (1..{self.page_count})")
        if self.wal is not None and number in self.wal.committed:
            idx = self.wal.committed[number]
            frame = self.wal.frame(idx)
            ref = PageRef(number, self.wal.page(idx), "wal", frame.data_offset, frame.number)
        else:
            off = (number - 1) * self.page_size
            if off + self.page_size > self.db.size:
                raise SqliteFormatError(f"page {number} lies past the end of the db file", off)
            ref = PageRef(number, self.db.read_at(off, self.page_size), "db", off)
        self._cache[number] = ref
        if len(self._cache) > 64:
            self._cache.popitem(last=False)
        return ref

    def db_file_page(self, number: int) -> PageRef:
        off = (number - 1) * self.page_size
        return PageRef(number, self.db.read_at(off, self.page_size), "db", off)

    @staticmethod
    def header_offset(number: int) -> int:
        return 100 if number == 1 else 0

    # -- b-trees -----------------------------------------------------------------------
    def walk_btree(
        self, root: int, seen: PageSet
    ) -> Iterator[tuple[PageRef, btree.PageHeader] | SqliteFormatError]:
        """Yield every page of a b-tree in key order; ``seen`` is shared across trees."""
        stack = [root]
        while stack:
            number = stack.pop()
            if number in seen:
                yield SqliteFormatError(f"page {number} referenced twice in the b-tree (loop)")
                continue
            seen.add(number)
            try:
                ref = self.page(number)
                hdr = btree.parse_header(ref.data, self.header_offset(number), self.usable)
            except SqliteFormatError as exc:
                exc.message = f"b-tree page {number}: {exc.message}"
                yield exc
                continue
            yield ref, hdr
            if not hdr.is_leaf:
                children = []
                for cell in btree.parse_cells(ref.data, hdr, self.usable):
                    if isinstance(cell, SqliteFormatError):
                        yield cell
                    elif cell.left_child:
                        children.append(cell.left_child)
                if hdr.right_child:
                    children.append(hdr.right_child)
                stack.extend(reversed(children))

    def payload(self, cell: btree.Cell, used: PageSet | None = None) -> bytes:
        """The whole payload of a cell, following its overflow chain."""
        if not cell.overflow:
            return cell.local
        return cell.local + self.read_overflow(
            cell.overflow, cell.payload_size - len(cell.local), used
        )

    def read_overflow(self, first: int, need: int, used: PageSet | None = None) -> bytes:
        if need > MAX_ASSEMBLED:
            raise SqliteFormatError(
                f"payload of {need} overflow bytes exceeds the {MAX_ASSEMBLED >> 20} MiB "
                "this reader assembles in memory"
            )
        out = bytearray()
        number = first
        seen: set[int] = set()
        while need > 0:
            if number in seen:
                raise SqliteFormatError(f"overflow chain loops back to page {number}")
            if number < 1 or number > self.page_count:
                raise SqliteFormatError(f"overflow chain points to page {number}, outside the db")
            seen.add(number)
            data = self.page(number).data
            chunk = data[4 : self.usable][:need]
            out += chunk
            need -= len(chunk)
            number = int.from_bytes(data[:4], "big")
        if used is not None:
            for number in seen:
                used.add(number)
        return bytes(out)

    def table_rows(self, table: Table, seen: PageSet, overflow_used: PageSet, owner: OwnerMap):
        """Yield LiveRow or SqliteFormatError for every row of a table.

        Rowid tables keep rows in table-leaf cells; WITHOUT ROWID tables keep them as
        keys of an index b-tree, in interior cells as well as leaves (primary-key
        columns first), and have no rowid.
        """
        index_tree = table.without_rowid
        name = ("index:" if index_tree else "") + table.name
        wanted = (btree.LEAF_INDEX, btree.INTERIOR_INDEX) if index_tree else (btree.LEAF_TABLE,)
        for item in self.walk_btree(table.root, seen):
            if isinstance(item, SqliteFormatError):
                yield item
                continue
            ref, hdr = item
            owner[ref.number] = name
            if hdr.kind not in wanted:
                if hdr.is_table != index_tree:
                    continue  # an interior page of a rowid table
                yield SqliteFormatError(f"page {ref.number} of {table.name} has the wrong type")
                continue
            for cell in btree.parse_cells(ref.data, hdr, self.usable):
                if isinstance(cell, SqliteFormatError):
                    cell.message = f"page {ref.number}: {cell.message}"
                    cell.offset = None if cell.offset is None else ref.offset + cell.offset
                    yield cell
                    continue
                try:
                    _, values = decode_record(self.payload(cell, overflow_used), self.encoding)
                except SqliteFormatError as exc:
                    yield SqliteFormatError(
                        f"page {ref.number}: row {cell.rowid}: {exc.message}",
                        ref.offset + cell.offset,
                    )
                    continue
                yield LiveRow(table, cell.rowid, values, ref, cell.offset)

    def find_row(self, table: Table, rowid: int) -> list[object] | None:
        """The live stored values of ``rowid`` in a rowid table (None when absent).

        A descent from the root with a binary search in each page, bounded by the tree
        depth SQLite allows.
        """
        number = table.root
        for _ in range(64):
            ref = self.page(number)
            hdr = btree.parse_header(ref.data, self.header_offset(number), self.usable)
            pointers = btree.cell_pointers(ref.data, hdr)
            lo, hi = 0, len(pointers)
            while lo < hi:  # first cell whose rowid (key) is >= rowid
                mid = (lo + hi) // 2
                cell = btree.parse_cell(ref.data, pointers[mid], hdr.kind, self.usable)
                if cell.rowid is not None and cell.rowid < rowid:
                    lo = mid + 1
                else:
                    hi = mid
            if hdr.kind == btree.LEAF_TABLE:
                if lo == len(pointers):
                    return None
                cell = btree.parse_cell(ref.data, pointers[lo], hdr.kind, self.usable)
                if cell.rowid != rowid:
                    return None
                return decode_record(self.payload(cell), self.encoding)[1]
            if hdr.kind != btree.INTERIOR_TABLE:
                return None
            if lo < len(pointers):
                nxt = btree.parse_cell(ref.data, pointers[lo], hdr.kind, self.usable).left_child
            else:
                nxt = hdr.right_child
            if not nxt:
                return None
            number = nxt
        raise SqliteFormatError(f"b-tree of {table.name} deeper than 64 levels (loop)")

    def index_pages(self, root: int, seen: PageSet, owner: OwnerMap, name: str):
        """Mark the pages of an index (or WITHOUT ROWID) b-tree; yield problems."""
        for item in self.walk_btree(root, seen):
            if isinstance(item, SqliteFormatError):
                yield item
            else:
                owner[item[0].number] = name

    def schema(self) -> tuple[list[Table], list[tuple[str, int]], list[SqliteFormatError]]:
        """Tables (rowid and WITHOUT ROWID) and other b-trees (indexes) from sqlite_master."""
        tables: list[Table] = []
        others: list[tuple[str, int]] = []
        problems: list[SqliteFormatError] = []
        for row in self.table_rows(self.master, set(), set(), {}):
            if isinstance(row, SqliteFormatError):
                problems.append(row)
                continue
            vals = (row.values + [None] * 5)[:5]
            kind, name, _tbl, root, sql = vals
            if not isinstance(root, int) or root <= 0:
                continue
            if kind == "table" and isinstance(name, str):
                if name == "sqlite_sequence":
                    sql = SEQUENCE_SQL  # declared untyped; its real types sharpen matching
                tables.append(parse_create_table(name, root, sql if isinstance(sql, str) else None))
            elif isinstance(name, str):
                others.append((name, root))
        return tables, others, problems

    # -- freelist and pointer maps -------------------------------------------------------
    def freelist(self) -> tuple[array, array, list[SqliteFormatError]]:
        trunks = array("L")
        leaves = array("L")
        problems: list[SqliteFormatError] = []
        seen = PageBitmap(self.page_count)
        number = self.header.freelist_trunk
        max_leaves = self.usable // 4 - 2
        while number:
            if number in seen:
                problems.append(
                    SqliteFormatError(f"freelist trunk chain loops back to page {number}")
                )
                break
            if number > self.page_count:
                problems.append(SqliteFormatError(f"freelist trunk page {number} outside the db"))
                break
            seen.add(number)
            try:
                data = self.page(number).data
            except SqliteFormatError as exc:
                problems.append(exc)
                break
            trunks.append(number)
            head = formats.parse(formats.FreelistTrunkHeader, data[:8], 0, "freelist trunk")
            count = head.leaf_count
            if count > max_leaves:
                problems.append(
                    SqliteFormatError(f"freelist trunk page {number} claims {count} leaves", 4)
                )
                count = max_leaves
            for i in range(count):
                leaf = int.from_bytes(data[8 + 4 * i : 12 + 4 * i], "big")
                if leaf < 2 or leaf > self.page_count or leaf in seen:
                    problems.append(
                        SqliteFormatError(f"freelist trunk page {number} lists bad leaf {leaf}")
                    )
                    continue
                seen.add(leaf)
                leaves.append(leaf)
            number = head.next_trunk
        return trunks, leaves, problems

    def ptrmap_pages(self) -> list[int]:
        """Pointer-map page numbers (auto-vacuum databases only)."""
        if not self.header.largest_root_page:
            return []
        step = self.usable // 5 + 1
        pages = []
        number = 2
        while number <= self.page_count:
            pages.append(number)
            number += step
            if number == self.lock_page:
                number += 1
        return pages

    def ptrmap_entries(self, number: int) -> list[tuple[int, int, int]]:
        """(page described, kind, parent) for each entry of a pointer-map page."""
        data = self.page(number).data
        out = []
        for i in range(self.usable // 5):
            entry = formats.parse(formats.PtrmapEntry, data[5 * i : 5 * i + 5], 5 * i, "ptrmap")
            if entry.kind == 0:
                continue
            out.append((number + 1 + i, entry.kind, entry.parent))
        return out
