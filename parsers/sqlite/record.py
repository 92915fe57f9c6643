"""Varints, serial types and the record format (header of serial types, then the body).

These functions sit in the carving inner loop, so they are plain Python over ``bytes``
with explicit bounds checks; they raise only :class:`SqliteFormatError`.
"""

from __future__ import annotations

import struct

from parsers.sqlite.errors import SqliteFormatError

_ENCODINGS = {1: "utf-8", 2: "utf-16-le", 3: "utf-16-be"}
_INT_SIZES = (0, 1, 2, 3, 4, 6, 8)
MAX_COLUMNS = 2000  # SQLITE_MAX_COLUMN upper bound; more is not a record


def read_varint(buf: bytes, pos: int, end: int | None = None) -> tuple[int, int]:
    """Return (value, new position); raise when the varint runs past ``end``."""
    limit = len(buf) if end is None else min(end, len(buf))
    value = 0
    for i in range(9):
        if pos >= limit:
            raise SqliteFormatError("varint runs past the end of its area", pos)
        byte = buf[pos]
        pos += 1
        if i == 8:
            return ((value << 8) | byte) & 0xFFFFFFFFFFFFFFFF, pos
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos
    raise SqliteFormatError("varint too long", pos)  # pragma: no cover


def varint_len(value: int) -> int:
    value &= 0xFFFFFFFFFFFFFFFF
    if value > 0x00FFFFFFFFFFFFFF:
        return 9
    n = 1
    while value > 0x7F:
        value >>= 7
        n += 1
    return n


def serial_size(stype: int) -> int:
    if stype < 7:
        return _INT_SIZES[stype] if stype >= 0 else -1
    if stype == 7:
        return 8
    if stype in (8, 9):
        return 0
    if stype in (10, 11):
        return -1  # reserved, never written by SQLite
    return (stype - 12) >> 1


def serial_kind(stype: int) -> str:
    if stype == 0:
        return "null"
    if stype < 7 or stype in (8, 9):
        return "int"
    if stype == 7:
        return "real"
    if stype >= 12:
        return "blob" if stype % 2 == 0 else "text"
    return "bad"


def decode_value(stype: int, buf: bytes, pos: int, encoding: int = 1, strict_text: bool = False):
    """Decode one column value; ``strict_text`` rejects text that does not decode."""
    if stype == 0:
        return None
    if stype == 8:
        return 0
    if stype == 9:
        return 1
    if stype < 7:
        n = _INT_SIZES[stype]
        return int.from_bytes(buf[pos : pos + n], "big", signed=True)
    if stype == 7:
        return struct.unpack_from(">d", buf, pos)[0]
    n = (stype - 12) >> 1
    raw = bytes(buf[pos : pos + n])
    if stype % 2 == 0:
        return raw
    codec = _ENCODINGS.get(encoding, "utf-8")
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        if strict_text:
            raise SqliteFormatError("text value does not decode", pos) from None
        return raw.decode(codec, errors="replace")


def read_serial_types(buf: bytes, pos: int, end: int) -> list[int]:
    """Read serial types from ``pos`` up to the header end ``end``."""
    types: list[int] = []
    while pos < end:
        stype, pos = read_varint(buf, pos, end)
        if stype in (10, 11):
            raise SqliteFormatError("reserved serial type", pos)
        types.append(stype)
        if len(types) > MAX_COLUMNS:
            raise SqliteFormatError("too many columns in record header", pos)
    if pos != end:
        raise SqliteFormatError("record header overruns its length", pos)
    return types


def body_size(types: list[int]) -> int:
    return sum(serial_size(t) for t in types)


def decode_body(
    types: list[int], buf: bytes, pos: int, encoding: int = 1, strict_text: bool = False
) -> list[object]:
    values: list[object] = []
    for stype in types:
        n = serial_size(stype)
        if n < 0 or pos + n > len(buf):
            raise SqliteFormatError("record body runs past the payload", pos)
        values.append(decode_value(stype, buf, pos, encoding, strict_text))
        pos += n
    return values


def decode_record(payload: bytes, encoding: int = 1, strict_text: bool = False):
    """Decode a whole record; returns (serial types, values)."""
    header_len, pos = read_varint(payload, 0)
    if header_len < 1 or header_len > len(payload):
        raise SqliteFormatError("record header length out of range", 0)
    types = read_serial_types(payload, pos, header_len)
    if header_len + body_size(types) > len(payload):
        raise SqliteFormatError("record body longer than its payload", header_len)
    return types, decode_body(types, payload, header_len, encoding, strict_text)
