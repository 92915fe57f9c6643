"""B-tree pages: the page header, cell pointer array, cells, freeblocks and free space.

A page is parsed from its bytes alone (plus the usable size), so the same code reads a
live page, an older WAL frame, a journal pre-image or a freelist page that still carries
its old b-tree header. Every offset is checked against the page before use.
"""

from __future__ import annotations

from dataclasses import dataclass

from parsers.sqlite import formats
from parsers.sqlite.errors import SqliteFormatError
from parsers.sqlite.record import read_varint

INTERIOR_INDEX, INTERIOR_TABLE, LEAF_INDEX, LEAF_TABLE = 2, 5, 10, 13
PAGE_KINDS = (INTERIOR_INDEX, INTERIOR_TABLE, LEAF_INDEX, LEAF_TABLE)
MAX_PAYLOAD = 1 << 30


@dataclass(frozen=True)
class PageHeader:
    kind: int
    first_freeblock: int
    cell_count: int
    content_start: int
    fragmented: int
    right_child: int | None
    offset: int  # where the header starts in the page (100 on page 1)

    @property
    def size(self) -> int:
        return 12 if self.kind in (INTERIOR_INDEX, INTERIOR_TABLE) else 8

    @property
    def is_leaf(self) -> bool:
        return self.kind in (LEAF_INDEX, LEAF_TABLE)

    @property
    def is_table(self) -> bool:
        return self.kind in (LEAF_TABLE, INTERIOR_TABLE)

    @property
    def pointers_end(self) -> int:
        return self.offset + self.size + 2 * self.cell_count


@dataclass(frozen=True)
class Cell:
    offset: int  # in the page
    size: int  # bytes the cell occupies on the page, overflow pointer included
    payload_size: int  # whole payload, local part plus overflow
    local: bytes  # the part of the payload stored on the page
    overflow: int  # first overflow page, 0 when none
    rowid: int | None = None
    left_child: int | None = None


def parse_header(page: bytes, offset: int, usable: int) -> PageHeader:
    if offset + 8 > len(page):
        raise SqliteFormatError("page too short for a b-tree header", offset)
    kind = page[offset]
    if kind not in PAGE_KINDS:
        raise SqliteFormatError(f"not a b-tree page (type byte {kind})", offset)
    raw = formats.parse(formats.BtreePageHeader, page[offset : offset + 12], offset, "page")
    start = raw.content_start_raw or 65536
    hdr = PageHeader(
        kind, raw.first_freeblock, raw.cell_count, start, raw.fragmented, raw.right_child, offset
    )
    if hdr.pointers_end > usable:
        raise SqliteFormatError(f"cell count {hdr.cell_count} does not fit the page", offset + 3)
    return hdr


def max_local(usable: int, kind: int) -> int:
    if kind in (LEAF_TABLE,):
        return usable - 35
    return ((usable - 12) * 64 // 255) - 23


def local_size(payload: int, usable: int, kind: int) -> int:
    """How much of a payload is stored on the page (the rest goes to overflow pages)."""
    x = max_local(usable, kind)
    if payload <= x:
        return payload
    m = ((usable - 12) * 32 // 255) - 23
    k = m + ((payload - m) % (usable - 4))
    return k if k <= x else m


def parse_cell(page: bytes, offset: int, kind: int, usable: int, end: int | None = None) -> Cell:
    """Parse one cell at ``offset``; ``end`` bounds it (defaults to the usable size)."""
    limit = usable if end is None else min(end, usable)
    if offset < 0 or offset >= limit:
        raise SqliteFormatError("cell pointer outside the page", offset)
    pos = offset
    left = rowid = None
    if kind in (INTERIOR_TABLE, INTERIOR_INDEX):
        if pos + 4 > limit:
            raise SqliteFormatError("interior cell truncated", offset)
        left = int.from_bytes(page[pos : pos + 4], "big")
        pos += 4
    if kind == INTERIOR_TABLE:
        rowid, pos = read_varint(page, pos, limit)
        return Cell(offset, pos - offset, 0, b"", 0, _signed(rowid), left)
    payload, pos = read_varint(page, pos, limit)
    if payload > MAX_PAYLOAD:
        raise SqliteFormatError(f"payload size {payload} is implausible", offset)
    if kind == LEAF_TABLE:
        rowid, pos = read_varint(page, pos, limit)
        rowid = _signed(rowid)
    local = local_size(payload, usable, kind)
    if pos + local > limit:
        raise SqliteFormatError("cell payload runs past the page", offset)
    data = bytes(page[pos : pos + local])
    pos += local
    overflow = 0
    if local < payload:
        if pos + 4 > limit:
            raise SqliteFormatError("overflow pointer runs past the page", pos)
        overflow = int.from_bytes(page[pos : pos + 4], "big")
        pos += 4
    return Cell(offset, max(pos - offset, 4), payload, data, overflow, rowid, left)


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def cell_pointers(page: bytes, hdr: PageHeader) -> list[int]:
    start = hdr.offset + hdr.size
    return [
        int.from_bytes(page[start + 2 * i : start + 2 * i + 2], "big")
        for i in range(hdr.cell_count)
    ]


def parse_cells(page: bytes, hdr: PageHeader, usable: int):
    """Yield (cell or error) for every pointer in the cell pointer array."""
    for ptr in cell_pointers(page, hdr):
        if ptr < hdr.pointers_end or ptr >= usable:
            yield SqliteFormatError("cell pointer outside the cell content area", ptr)
            continue
        try:
            yield parse_cell(page, ptr, hdr.kind, usable)
        except SqliteFormatError as exc:
            yield exc


def freeblocks(page: bytes, hdr: PageHeader, usable: int) -> tuple[list[tuple[int, int]], list]:
    """The freeblock chain as (offset, size) pairs, and problems met while walking it.

    The chain must ascend, so a pointer that goes back is a loop: it stops the walk.
    """
    blocks: list[tuple[int, int]] = []
    problems: list[SqliteFormatError] = []
    pos = hdr.first_freeblock
    floor = hdr.pointers_end
    while pos:
        if pos < floor or pos + 4 > usable:
            problems.append(SqliteFormatError("freeblock pointer outside the page", pos))
            break
        nxt = int.from_bytes(page[pos : pos + 2], "big")
        size = int.from_bytes(page[pos + 2 : pos + 4], "big")
        if size < 4 or pos + size > usable:
            problems.append(SqliteFormatError(f"freeblock size {size} out of range", pos + 2))
            blocks.append((pos, max(4, min(size, usable - pos))))
            break
        blocks.append((pos, size))
        if nxt and nxt <= pos + size - 1:
            problems.append(SqliteFormatError("freeblock chain goes backwards (loop)", pos))
            break
        floor = pos + size
        pos = nxt
    return blocks, problems


def free_regions(
    hdr: PageHeader, cells: list[Cell], usable: int, floor: int
) -> list[tuple[int, int]]:
    """Byte ranges of the page not covered by the header, pointer array or live cells.

    Computed from the live cells rather than the freeblock chain, so space a
    manipulated chain hides is still searched.
    """
    used = sorted((c.offset, c.offset + c.size) for c in cells)
    regions: list[tuple[int, int]] = []
    pos = max(floor, hdr.pointers_end)
    for start, end in used:
        if start > pos:
            regions.append((pos, start))
        pos = max(pos, end)
    if pos < usable:
        regions.append((pos, usable))
    return regions
