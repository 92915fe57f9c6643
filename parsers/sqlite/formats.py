"""Declarative layouts of the SQLite on-disk structures (construct).

Only fixed-layout structures are described here; variable-length cells and records
are walked by :mod:`parsers.sqlite.record` and :mod:`parsers.sqlite.btree` because they
are parsed millions of times while carving and construct is too slow for that inner loop.
"""

from __future__ import annotations

import construct as c

from parsers.sqlite.errors import SqliteFormatError

DB_MAGIC = b"SQLite format 3\x00"
WAL_MAGIC_LE = 0x377F0682
WAL_MAGIC_BE = 0x377F0683
JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")

DbHeader = c.Struct(
    "magic" / c.Bytes(16),
    "page_size_raw" / c.Int16ub,
    "write_version" / c.Int8ub,
    "read_version" / c.Int8ub,
    "reserved" / c.Int8ub,
    "max_payload_frac" / c.Int8ub,
    "min_payload_frac" / c.Int8ub,
    "leaf_payload_frac" / c.Int8ub,
    "change_counter" / c.Int32ub,
    "page_count" / c.Int32ub,
    "freelist_trunk" / c.Int32ub,
    "freelist_count" / c.Int32ub,
    "schema_cookie" / c.Int32ub,
    "schema_format" / c.Int32ub,
    "default_cache_size" / c.Int32ub,
    "largest_root_page" / c.Int32ub,
    "text_encoding" / c.Int32ub,
    "user_version" / c.Int32ub,
    "incremental_vacuum" / c.Int32ub,
    "application_id" / c.Int32ub,
    "reserved_expansion" / c.Bytes(20),
    "version_valid_for" / c.Int32ub,
    "sqlite_version" / c.Int32ub,
)

WalHeader = c.Struct(
    "magic" / c.Int32ub,
    "version" / c.Int32ub,
    "page_size" / c.Int32ub,
    "checkpoint_seq" / c.Int32ub,
    "salt1" / c.Int32ub,
    "salt2" / c.Int32ub,
    "checksum1" / c.Int32ub,
    "checksum2" / c.Int32ub,
)

WalFrameHeader = c.Struct(
    "page_number" / c.Int32ub,
    "commit_size" / c.Int32ub,  # database size in pages after a commit frame, else 0
    "salt1" / c.Int32ub,
    "salt2" / c.Int32ub,
    "checksum1" / c.Int32ub,
    "checksum2" / c.Int32ub,
)

JournalHeader = c.Struct(
    "magic" / c.Bytes(8),
    "record_count" / c.Int32ub,  # 0xFFFFFFFF: "compute from the file size"
    "nonce" / c.Int32ub,
    "initial_pages" / c.Int32ub,
    "sector_size" / c.Int32ub,
    "page_size" / c.Int32ub,
)

BtreePageHeader = c.Struct(
    "kind" / c.Int8ub,
    "first_freeblock" / c.Int16ub,
    "cell_count" / c.Int16ub,
    "content_start_raw" / c.Int16ub,  # 0 means 65536
    "fragmented" / c.Int8ub,
    "right_child" / c.If(lambda ctx: ctx.kind in (2, 5), c.Int32ub),
)

FreeblockHeader = c.Struct("next" / c.Int16ub, "size" / c.Int16ub)

FreelistTrunkHeader = c.Struct("next_trunk" / c.Int32ub, "leaf_count" / c.Int32ub)

PtrmapEntry = c.Struct("kind" / c.Int8ub, "parent" / c.Int32ub)


class SqliteVarint(c.Construct):
    """SQLite's big-endian varint: 1 to 9 bytes, the ninth contributing all 8 bits."""

    def _parse(self, stream, context, path):
        value = 0
        for i in range(9):
            byte = c.stream_read(stream, 1, path)[0]
            if i == 8:
                return ((value << 8) | byte) & 0xFFFFFFFFFFFFFFFF
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                return value
        raise c.ExplicitError("unreachable", path=path)

    def _build(self, obj, stream, context, path):
        raw = encode_varint(obj)
        c.stream_write(stream, raw, len(raw), path)
        return obj

    def _sizeof(self, context, path):
        raise c.SizeofError("varint has a variable size", path=path)


Varint = SqliteVarint()


def encode_varint(value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF
    if value <= 0x7F:
        return bytes([value])
    if value > 0x00FFFFFFFFFFFFFF:
        out = [value & 0xFF]
        value >>= 8
        for _ in range(8):
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        return bytes(reversed(out))
    out = []
    while value:
        out.append(value & 0x7F)
        value >>= 7
    out.reverse()
    return bytes([b | 0x80 for b in out[:-1]] + [out[-1]])


def parse(struct: c.Construct, data: bytes, offset: int, what: str):
    """Parse a construct struct, turning any construct failure into a located error."""
    try:
        return struct.parse(data)
    except c.ConstructError as exc:
        raise SqliteFormatError(f"{what}: {exc.__class__.__name__}", offset) from None
