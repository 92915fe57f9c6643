"""Ogg (RFC 3533): walk pages, each checked by its CRC, until every stream begun has ended.

The first packet of a beginning-of-stream page names the codec (Opus, Vorbis, Speex,
FLAC). Pages of a stream that began here are followed until their EOS page; a chained
file that follows (a new BOS after all streams ended) is the next object.
"""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache

from construct import Bytes, Const, Int8ul, Int16sl, Int16ul, Int32ul, Int64sl, Struct

from parsers.audio.probe import Buffer, Probe

SIGNATURES = (b"OggS",)

PAGE_HEADER = Struct(
    "capture" / Const(b"OggS"),
    "version" / Const(0, Int8ul),
    "flags" / Int8ul,
    "granule" / Int64sl,
    "serial" / Int32ul,
    "sequence" / Int32ul,
    "crc" / Int32ul,
    "segments" / Int8ul,
)
OPUS_HEAD = Struct(
    "magic" / Const(b"OpusHead"),
    "version" / Int8ul,
    "channels" / Int8ul,
    "pre_skip" / Int16ul,
    "input_rate" / Int32ul,
    "gain" / Int16sl,
    "mapping" / Int8ul,
)
VORBIS_ID = Struct(
    "magic" / Const(b"\x01vorbis"),
    "version" / Int32ul,
    "channels" / Int8ul,
    "rate" / Int32ul,
)
SPEEX_HEADER = Struct("magic" / Const(b"Speex   "), "version" / Bytes(20))
_PAGE = struct.Struct("<4sBBqIIIB")

_BITREV = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


@lru_cache(maxsize=512)
def _zeros_crc(n: int) -> int:
    return zlib.crc32(bytes(n))


def ogg_crc(data: bytes) -> int:
    """Ogg's CRC-32 (poly 0x04C11DB7, not reflected, init 0) at zlib's speed.

    A reflected CRC of bit-reversed bytes is the bit-reversed plain CRC; zlib's init and
    final XOR cancel against the CRC of as many zero bytes.
    """
    r = zlib.crc32(data.translate(_BITREV)) ^ _zeros_crc(len(data))
    return int(f"{r:032b}"[::-1], 2)


def _identify(packet: bytes) -> tuple[str | None, dict]:
    if packet.startswith(b"OpusHead") and len(packet) >= 19:
        h = OPUS_HEAD.parse(packet[:19])
        return "opus", {"channels": h.channels, "sample_rate": 48000, "input_rate": h.input_rate}
    if packet.startswith(b"\x01vorbis") and len(packet) >= 16:
        h = VORBIS_ID.parse(packet[:16])
        return "vorbis", {"channels": h.channels, "sample_rate": h.rate}
    if packet.startswith(b"Speex   "):
        return None, {"codec_name": "speex"}
    if packet.startswith(b"\x7fFLAC"):
        return "flac", {}
    return None, {}


def probe(buf: Buffer, pos: int) -> Probe | None:
    n = len(buf)
    p = pos
    open_streams: set[int] = set()
    pages = 0
    codec = None
    extra: dict = {}
    truncated = False
    while p + 27 <= n:
        capture, version, flags, _granule, serial, _seq, crc, nseg = _PAGE.unpack_from(buf, p)
        if capture != b"OggS" or version != 0 or flags & 0xF8:
            break
        if pages == 0 and not flags & 0x02:
            return None  # a stream starts with a BOS page
        if flags & 0x02:
            if pages and not open_streams:
                break  # every stream ended: a new (chained) file starts here
            if serial in open_streams:
                break
        elif serial not in open_streams:
            break
        if p + 27 + nseg > n:
            truncated = True
            p = n
            break
        lacing = bytes(buf[p + 27 : p + 27 + nseg])
        end = p + 27 + nseg + sum(lacing)
        if end > n:
            truncated = True  # (a page that cannot be CRC-checked: a soft end)
            p = n
            break
        if flags & 0x02:
            open_streams.add(serial)
        page = bytearray(buf[p:end])
        page[22:26] = b"\0\0\0\0"
        if ogg_crc(bytes(page)) != crc:
            break
        if pages == 0:
            codec, extra = _identify(
                bytes(page[27 + nseg : 27 + nseg + lacing[0]]) if nseg else b""
            )
        pages += 1
        p = end
        if flags & 0x04:
            open_streams.discard(serial)
            if not open_streams:
                break
    if pages == 0:
        return None
    if not truncated and open_streams:
        truncated = True  # the walk stopped before the stream's EOS page
        extra["missing_eos"] = True
    extra["pages"] = pages
    overran = truncated and p == n and not extra.get("missing_eos")
    return Probe(p - pos, "ogg", codec, truncated, pages >= 2, "ogg", extra, soft_end=overran)
