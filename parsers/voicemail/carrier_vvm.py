"""Carrier and OEM visual-voicemail apps: audio that needs format knowledge to see.

Their private storage is undocumented (reference §2.4-2.5), so nothing here depends on
file names: the application carves every stored file and attaches the owning package
from the path, which finds ordinary audio under these packages. This module adds only
what a carver cannot see:

- base64 text that decodes to audio (AT&T decodes IMAP attachments chunk by chunk; an
  interrupted or differently-built client leaves the text) → ``protection="encoded"``,
  ``method="base64"``, the decoded audio in ``data``;
- header-less AMR: AT&T writes a multi-part message's follow-on parts without the
  ``#!AMR\\n`` magic so the parts concatenate → container ``raw``, ``sha256`` over the
  frames as stored, ``decodes`` checked with the magic prepended in memory
  (``parsers.audio.carve.headerless_amr``).
"""

from __future__ import annotations

import base64
import binascii
import mmap
import re
from collections.abc import Iterator

from parsers.apps import CARRIER_VVM
from parsers.audio.carve import Hit, carve, headerless_amr, identify, to_record
from parsers.base import Context, Item
from parsers.records import AudioRecord, ProblemRecord
from parsers.registry import register

PACKAGES = CARRIER_VVM
MAX_SIZE = 64 << 20  # voicemail parts are small; larger files are left to the carver
MIN_B64 = 64
_B64_TEXT = re.compile(rb"[A-Za-z0-9+/=\r\n\t ]+")


def _package(path: str) -> str | None:
    for pkg in PACKAGES:
        base = pkg.rstrip(".*")
        m = re.search(rf"(?:^|/)({re.escape(base)}[A-Za-z0-9_.]*)/", path)
        if m and (pkg.endswith("*") or m.group(1) == pkg):
            return m.group(1)
    return None


def decode_base64(data: bytes) -> bytes | None:
    """The bytes a base64 text (MIME line breaks allowed) stands for, or None."""
    if len(data) < MIN_B64 or not _B64_TEXT.fullmatch(data):
        return None
    compact = re.sub(rb"\s+", b"", data)
    if len(compact) % 4:
        return None
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def _audio_in(data: bytes) -> list[Hit]:
    """Audio starting at offset 0 (by magic), else header-less AMR runs."""
    hit = identify(data)
    if hit is not None:
        return [hit]
    return headerless_amr(data)


def _encoded_records(item: Item, decoded: bytes, package: str | None) -> Iterator[AudioRecord]:
    for hit in _audio_in(decoded):
        rec = to_record(hit, item.path, package=package)
        rec.offset, rec.length = 0, item.size  # the stored (encoded) bytes: the whole file
        rec.protection, rec.method = "encoded", "base64"
        rec.data = decoded[hit.offset : hit.offset + hit.length]
        rec.extra["decoded_offset"] = hit.offset
        yield rec


def _headerless_records(item: Item, buf: mmap.mmap, package: str | None) -> Iterator[AudioRecord]:
    covered = [(h.offset, h.offset + h.length) for h in carve(buf, decode=False)]
    for hit in headerless_amr(buf):
        if any(hit.offset < e and s < hit.offset + hit.length for s, e in covered):
            continue
        rec = to_record(hit, item.path, package=package)
        rec.extra["note"] = (
            "AMR frames without the #!AMR header (a follow-on part of a multi-part "
            "message); decoded with the header supplied in memory"
        )
        yield rec


@register(
    "carrier-vvm",
    patterns=tuple(f"*/{p}/*" for p in PACKAGES) + tuple(f"{p}/*" for p in PACKAGES),
)
def parse(item: Item, ctx: Context) -> Iterator[object]:
    if item.size == 0:
        return
    if item.size > MAX_SIZE:
        yield ProblemRecord(
            item.path,
            "parse",
            f"{item.size} bytes: larger than {MAX_SIZE}, not checked for base64 or "
            "header-less AMR (the carver still searched it)",
        )
        return
    package = _package(item.path)
    try:
        with item.open() as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            head = mm[:4096]
            if _B64_TEXT.fullmatch(head) and len(head) >= MIN_B64:
                decoded = decode_base64(mm[:])
                if decoded is not None:
                    yield from _encoded_records(item, decoded, package)
                return
            yield from _headerless_records(item, mm, package)
    except (OSError, ValueError) as exc:
        yield ProblemRecord(item.path, "parse", f"cannot read: {exc}")
