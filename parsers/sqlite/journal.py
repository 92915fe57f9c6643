"""Rollback journals: the pre-images of pages a transaction changed.

A hot journal (left by a crash) or one kept by ``journal_mode=PERSIST``/``TRUNCATE``
leftovers holds whole pages as they were before the transaction, so rows the
transaction deleted are intact in it. PERSIST zeroes the header at commit; the records
behind it are still read, using the database's page size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from parsers.sqlite import formats
from parsers.sqlite.errors import SqliteFormatError
from parsers.sqlite.pagefile import PagedFile
from parsers.sqlite.wal import valid_page_size


@dataclass(frozen=True)
class JournalPage:
    page_number: int
    offset: int  # of the page data in the journal file
    data: bytes
    checksum_ok: bool


def journal_checksum(nonce: int, page: bytes) -> int:
    total = nonce
    i = len(page) - 200
    while i > 0:
        total += page[i]
        i -= 200
    return total & 0xFFFFFFFF


def journal_pages(f: PagedFile, db_page_size: int) -> Iterator[JournalPage | SqliteFormatError]:
    if f.size < 28:
        if f.size:
            yield SqliteFormatError("journal shorter than its header", 0)
        return
    hdr = formats.parse(formats.JournalHeader, f.read_at(0, 28), 0, "journal header")
    nonce = hdr.nonce
    if hdr.magic == formats.JOURNAL_MAGIC:
        page_size = hdr.page_size if valid_page_size(hdr.page_size) else db_page_size
        sector = hdr.sector_size if 512 <= hdr.sector_size <= 65536 else 512
    elif hdr.page_size == db_page_size and hdr.sector_size in (512, 1024, 2048, 4096, 8192):
        # SQLite writes the magic only when it syncs before a commit: a journal caught
        # mid-transaction has the rest of its header, nonce included.
        yield SqliteFormatError("journal header magic not yet written (hot journal)", 0)
        page_size, sector = db_page_size, hdr.sector_size
    else:
        yield SqliteFormatError("journal header magic missing (zeroed or not a journal)", 0)
        page_size, sector, nonce = db_page_size, 512, None
    if page_size != db_page_size:
        yield SqliteFormatError("journal page size differs from the database's", 24)
        return
    record = page_size + 8
    pos = sector
    while pos + record <= f.size:
        raw = f.read_at(pos, record)
        number = int.from_bytes(raw[:4], "big")
        data = raw[4 : 4 + page_size]
        stored = int.from_bytes(raw[4 + page_size :], "big")
        if number == 0 or number > 0x7FFFFFFF:
            # A new journal header (multi-segment journal) or junk: realign on sectors.
            pos += sector
            continue
        ok = nonce is not None and journal_checksum(nonce, data) == stored
        yield JournalPage(number, pos + 4, data, ok)
        pos += record
