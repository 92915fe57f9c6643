"""Apple Core Audio Format: ``caff``, version 1, then chunks with 64-bit big-endian sizes.

A ``data`` chunk of size -1 runs to the end of the file; carved out of a larger buffer
that is "to the end of what is there" (``extra['open_ended']``).
"""

from __future__ import annotations

import struct

from construct import Bytes, Const, Float64b, Int16ub, Int32ub, Struct

from parsers.audio.probe import Buffer, Probe

SIGNATURES = (b"caff",)

FILE_HEADER = Struct("magic" / Const(b"caff"), "version" / Const(1, Int16ub), "flags" / Int16ub)
DESC = Struct(
    "sample_rate" / Float64b,
    "format_id" / Bytes(4),
    "format_flags" / Int32ub,
    "bytes_per_packet" / Int32ub,
    "frames_per_packet" / Int32ub,
    "channels" / Int32ub,
    "bits_per_channel" / Int32ub,
)
CHUNKS = frozenset(
    b"desc data pakt chan kuki info uuid free strg mark regn inst midi ovvw peak edct umid "
    b"lstn ldsc".split()
)
FORMATS = {
    b"lpcm": "pcm",
    b"aac ": "aac",
    b"alac": "alac",
    b"ulaw": "mulaw",
    b"alaw": "alaw",
    b"ima4": "adpcm",
    b"samr": "amr-nb",
    b"sawb": "amr-wb",
    b"opus": "opus",
    b"flac": "flac",
    b".mp3": "mp3",
    b"Qclp": "qcelp",
    b"agsm": "gsm",
}


def probe(buf: Buffer, pos: int) -> Probe | None:
    n = len(buf)
    if n - pos < 8 + 12 + 32:
        return None
    magic, version, flags = struct.unpack_from(">4sHH", buf, pos)
    if magic != b"caff" or version != 1 or flags != 0:
        return None
    p = pos + 8
    ctype, csize = struct.unpack_from(">4sq", buf, p)
    if ctype != b"desc" or csize != 32:
        return None
    desc = DESC.parse(bytes(buf[p + 12 : p + 44]))
    if not (0 < desc.sample_rate < 1e7) or not 0 < desc.channels <= 64:
        return None
    codec = FORMATS.get(bytes(desc.format_id))
    extra: dict = {
        "sample_rate": int(desc.sample_rate),
        "channels": desc.channels,
        "format_id": bytes(desc.format_id).decode("latin-1"),
    }
    truncated = has_data = False
    while p + 12 <= n:
        ctype, csize = struct.unpack_from(">4sq", buf, p)
        if ctype not in CHUNKS:
            break
        if ctype == b"data":
            has_data = True
            if csize == -1:
                csize = n - p - 12
                extra["open_ended"] = True
        if csize < 0:
            break
        if p + 12 + csize > n:
            truncated, p = True, n
            break
        p += 12 + csize
    return Probe(p - pos, "caf", codec, truncated, has_data, "caf", extra, soft_end=truncated)
