"""Manifest.mbdb (iOS 5-9): a flat list of big-endian records after ``mbdb\\x05\\x00``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from construct import (
    Array,
    Bytes,
    ConstructError,
    If,
    Int8ub,
    Int16ub,
    Int32ub,
    Int64ub,
    Struct,
    this,
)

MAGIC = b"mbdb\x05\x00"

String = Struct("length" / Int16ub, "data" / If(this.length != 0xFFFF, Bytes(this.length)))

Record = Struct(
    "domain" / String,
    "path" / String,
    "link_target" / String,
    "data_hash" / String,
    "encryption_key" / String,
    "mode" / Int16ub,
    "inode" / Int64ub,
    "uid" / Int32ub,
    "gid" / Int32ub,
    "mtime" / Int32ub,
    "atime" / Int32ub,
    "ctime" / Int32ub,
    "size" / Int64ub,
    "protection_class" / Int8ub,
    "property_count" / Int8ub,
    "properties" / Array(this.property_count, Struct("name" / String, "value" / String)),
)


@dataclass(frozen=True)
class MbdbRecord:
    offset: int
    domain: str
    path: str
    link_target: str
    mode: int
    size: int
    mtime: int
    ctime: int
    protection_class: int
    encryption_key: bytes

    @property
    def file_id(self) -> str:
        return hashlib.sha1(f"{self.domain}-{self.path}".encode()).hexdigest()

    @property
    def kind(self) -> str:
        return {0xA000: "symlink", 0x4000: "dir", 0x8000: "file"}.get(self.mode & 0xE000, "other")


class MbdbError(ValueError):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def _text(s: object) -> str:
    data = getattr(s, "data", None)
    return data.decode("utf-8", "surrogateescape") if data else ""


def read_mbdb(stream: BinaryIO) -> Iterator[MbdbRecord | MbdbError]:
    """Every record; a corrupt tail ends the walk with one MbdbError naming its offset."""
    if stream.read(len(MAGIC)) != MAGIC:
        yield MbdbError("not a Manifest.mbdb (bad magic)", 0)
        return
    while True:
        offset = stream.tell()
        if not stream.read(1):
            return
        stream.seek(offset)
        try:
            rec = Record.parse_stream(stream)
        except (ConstructError, OverflowError) as exc:
            yield MbdbError(f"corrupt or truncated record: {type(exc).__name__}", offset)
            return
        key = rec.encryption_key.data or b""
        yield MbdbRecord(
            offset,
            _text(rec.domain),
            _text(rec.path),
            _text(rec.link_target),
            rec.mode,
            rec.size,
            rec.mtime,
            rec.ctime,
            rec.protection_class,
            key,
        )
