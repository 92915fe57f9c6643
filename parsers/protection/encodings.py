"""Encoded audio: base64 / hex text and zlib / gzip / raw deflate streams, one level nested.

An app that stores audio as text (FusionPBX ``message_base64``, AT&T's download chunks,
a JSON API response kept in a cache) or compresses it leaves bytes no carver's signature
search sees. Each form is undone only as far as needed to look at the head of the result
(the first :data:`HEAD_CHARS` text characters, the first :data:`PEEK` output bytes of a
stream); only a head that starts like audio is decoded whole, and
:func:`parsers.protection.common.recovered` then decides with a full decode.
Decompression is bounded by :data:`MAX_OUTPUT` bytes and :data:`MAX_RATIO` times the
input, so a compression bomb costs at most that much memory.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from parsers.protection.common import MAX_BYTES, audio_head

MAX_OUTPUT = MAX_BYTES
MAX_RATIO = 1024
MIN_TEXT = 64  # characters: shorter text cannot hold an audio object worth reporting
MIN_RUN = 256  # characters of a base64/hex run inside a larger text
HEAD_CHARS = 4096
PEEK = 64

_WS = b" \t\r\n\x0b\x0c"
_HEX = re.compile(rb"[0-9A-Fa-f]+")
_B64 = re.compile(rb"[A-Za-z0-9+/]+={0,2}")
_B64URL = re.compile(rb"[A-Za-z0-9_\-]+={0,2}")
_DATA_URI = re.compile(rb"data:[\w.+/-]*(?:;[\w=.-]+)*;base64,")


class Bomb(Exception):
    """A stream that expands past the bounds."""


@dataclass(frozen=True)
class Decoded:
    method: str  # 'base64', 'hex', 'zlib', 'base64+gzip', ...
    data: bytes


def _streams(head: bytes) -> list[tuple[str, int]]:
    """Compressed-stream readings worth trying for bytes starting with ``head``."""
    kinds = []
    if head[:3] == b"\x1f\x8b\x08":
        kinds.append(("gzip", 31))
    zlib_head = len(head) >= 2 and head[0] & 0x0F == 8 and head[0] >> 4 <= 7
    if zlib_head and ((head[0] << 8) | head[1]) % 31 == 0:
        kinds.append(("zlib", 15))
    kinds.append(("deflate", -15))
    return kinds


def inflate(data: bytes | memoryview, wbits: int, limit: int | None = None) -> bytes:
    """Decompress with an output bound; :class:`Bomb` past it, ``zlib.error`` when invalid."""
    if limit is None:
        limit = min(MAX_OUTPUT, max(1 << 20, len(data) * MAX_RATIO))
    d = zlib.decompressobj(wbits)
    parts: list[bytes] = []
    total = 0
    pending = bytes(data)
    while True:
        chunk = d.decompress(pending, 1 << 20)
        pending = d.unconsumed_tail
        total += len(chunk)
        if total > limit:
            raise Bomb(f"expands past {limit} bytes")
        if chunk:
            parts.append(chunk)
        if d.eof or (not chunk and not pending):
            break
    return b"".join(parts)


def decompressed(data: bytes) -> Iterator[Decoded]:
    """zlib / gzip / raw deflate readings of ``data`` whose output starts like audio."""
    for method, wbits in _streams(data[:4]):
        try:
            peek = zlib.decompressobj(wbits).decompress(data[: 1 << 16], PEEK)
        except zlib.error:
            continue
        if len(peek) < 16 or not audio_head(peek):
            continue
        try:
            out = inflate(data, wbits)
        except zlib.error:
            continue
        yield Decoded(method, out)
        return


def _text_kind(s: bytes) -> str | None:
    if _HEX.fullmatch(s[:HEAD_CHARS]):
        return "hex"
    if _B64.fullmatch(s[:HEAD_CHARS]):
        return "base64"
    if _B64URL.fullmatch(s[:HEAD_CHARS]):
        return "base64url"
    return None


def _b64(s: bytes, urlsafe: bool) -> bytes:
    s = s.rstrip(b"=")
    s += b"=" * (-len(s) % 4)
    if urlsafe:
        return base64.urlsafe_b64decode(s)
    return base64.b64decode(s, validate=True)


def text_decodings(text: bytes | str) -> Iterator[Decoded]:
    """Binary readings of a base64 (standard or URL-safe, lines, padding or not; a
    ``data:`` URI) or hex text, only when the head decodes to something audio-like or
    compressed-audio-like. Yields the whole decoded bytes."""
    raw = text.encode("ascii", "ignore") if isinstance(text, str) else text
    lead = raw[:200]
    m = _DATA_URI.match(lead.lstrip())
    start = len(lead) - len(lead.lstrip()) + m.end() if m else 0
    # decide on the head alone: a large binary file costs two small slices, not copies
    probe = raw[start : start + 2 * HEAD_CHARS].translate(None, _WS)[:HEAD_CHARS]
    if len(probe) < MIN_TEXT:
        return
    kind = _text_kind(probe)
    if kind is None:
        return
    try:
        if kind == "hex":
            head = bytes.fromhex(probe[: len(probe) - len(probe) % 2].decode())
        else:
            head = _b64(probe[: len(probe) - len(probe) % 4].rstrip(b"="), kind == "base64url")
    except (binascii.Error, ValueError):
        return
    worth = audio_head(head) or any(meth != "deflate" for meth, _ in _streams(head[:4]))
    if not worth:
        # raw deflate has no header: peek at what it would give
        try:
            peek = zlib.decompressobj(-15).decompress(head, PEEK)
            worth = len(peek) >= 16 and audio_head(peek)
        except zlib.error:
            worth = False
    if not worth:
        return
    s = raw[start:].translate(None, _WS)
    full = _B64.fullmatch(s) if kind == "base64" else None
    try:
        if kind == "hex":
            if len(s) % 2 or not _HEX.fullmatch(s):
                return
            data = bytes.fromhex(s.decode())
        elif kind == "base64":
            if full is None:
                return
            data = _b64(s, False)
        else:
            if not _B64URL.fullmatch(s):
                return
            data = _b64(s, True)
    except (binascii.Error, ValueError):
        return
    label = "hex" if kind == "hex" else "base64"
    if audio_head(data):
        yield Decoded(label, data)
    for inner in decompressed(data):
        yield Decoded(f"{label}+{inner.method}", inner.data)


# base64 bodies inside text: MIME parts (lines of 40+ characters, last line shorter), or one
# long token (a JSON string, a data: URI in HTML or a log line)
_B64_RUN = re.compile(
    rb"(?:[A-Za-z0-9+/]{40,}\r?\n)+[A-Za-z0-9+/]*={0,2}|[A-Za-z0-9+/]{%d,}={0,2}" % MIN_RUN
)
MAX_RUNS = 256


def embedded(text: bytes | str) -> Iterator[tuple[int, int, Decoded]]:
    """Base64 or hex runs of at least :data:`MIN_RUN` characters inside a larger text
    (a cached MIME message with an audio attachment, a log line, an HTML page):
    (offset, length, decoding) of each run whose decoding starts like audio."""
    raw = text.encode("utf-8", "replace") if isinstance(text, str) else text
    for n, m in enumerate(_B64_RUN.finditer(raw)):
        if n >= MAX_RUNS:
            return
        if m.end() - m.start() < MIN_RUN or (m.start() == 0 and m.end() == len(raw)):
            continue
        for dec in text_decodings(raw[m.start() : m.end()]):
            yield m.start(), m.end() - m.start(), dec
            break


def decodings(data: bytes | str) -> Iterator[Decoded]:
    """Every reading of ``data`` (text or bytes) that starts like audio: compressed,
    text-encoded, or text-encoded then compressed."""
    if isinstance(data, bytes):
        yield from decompressed(data)
    yield from text_decodings(data)
