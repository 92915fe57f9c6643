"""AIFF / AIFF-C: ``FORM`` + big-endian size + ``AIFF``/``AIFC``; chunks ``COMM``, ``SSND``...

Length is ``8 + size`` (+ pad), cross-checked by the chunk walk as for RIFF.
"""

from __future__ import annotations

import struct

from construct import Bytes, Int16sb, Int32ub, Struct

from parsers.audio.probe import Buffer, Probe, printable4

SIGNATURES = (b"FORM",)

COMM = Struct(
    "channels" / Int16sb,
    "frames" / Int32ub,
    "bits" / Int16sb,
    "rate" / Bytes(10),  # IEEE 754 80-bit extended
)
COMPRESSION = {
    b"NONE": "pcm",
    b"sowt": "pcm",
    b"twos": "pcm",
    b"raw ": "pcm",
    b"fl32": "pcm",
    b"FL32": "pcm",
    b"fl64": "pcm",
    b"in24": "pcm",
    b"in32": "pcm",
    b"ulaw": "mulaw",
    b"ULAW": "mulaw",
    b"alaw": "alaw",
    b"ALAW": "alaw",
    b"ima4": "adpcm",
    b"GSM ": "gsm",
    b"Qclp": "qcelp",
}


KNOWN_CHUNKS = frozenset(
    [
        b"COMM",
        b"SSND",
        b"FVER",
        b"NAME",
        b"AUTH",
        b"(c) ",
        b"ANNO",
        b"MARK",
        b"INST",
        b"COMT",
        b"APPL",
        b"ID3 ",
        b"MIDI",
        b"AESD",
        b"CHAN",
        b"wave",
        b"basc",
        b"cate",
    ]
)


def _extended(b: bytes) -> float:
    exp = ((b[0] & 0x7F) << 8) | b[1]
    mant = int.from_bytes(b[2:10], "big")
    if exp == 0 and mant == 0:
        return 0.0
    if exp - 16383 > 64:
        return float("inf")  # no sample rate is that large: the caller rejects it
    return mant * 2.0 ** (exp - 16383 - 63)


def probe(buf: Buffer, pos: int) -> Probe | None:
    n = len(buf)
    if n - pos < 12:
        return None
    magic, size, form = struct.unpack_from(">4sI4s", buf, pos)
    if magic != b"FORM" or form not in (b"AIFF", b"AIFC"):
        return None
    declared = pos + 8 + size + (size & 1)
    limit = min(declared, n)
    p = pos + 12
    codec = None
    extra: dict = {}
    seen_comm = seen_ssnd = truncated = junk = soft = False
    while p + 8 <= limit:
        cid, csz = struct.unpack_from(">4sI", buf, p)
        if not printable4(cid):
            junk = True
            break
        if cid == b"COMM":
            if p + 8 + min(csz, 22) > n:
                truncated = True
                break
            payload = bytes(buf[p + 8 : p + 8 + min(csz, 64)])
            if len(payload) < 18:
                return None
            c = COMM.parse(payload[:18])
            rate = _extended(bytes(c.rate))
            if not (0 < c.channels <= 64 and 0 < rate < 1e7):
                return None
            codec = "pcm"
            if form == b"AIFC" and len(payload) >= 22:
                codec = COMPRESSION.get(payload[18:22])
                extra["compression"] = payload[18:22].decode("latin-1")
            extra.update(sample_rate=int(rate), channels=c.channels)
            seen_comm = True
        elif cid == b"SSND":
            seen_ssnd = True
        nxt = p + 8 + csz + (csz & 1)
        if nxt > limit:
            if cid not in KNOWN_CHUNKS:
                junk = True
                break
            if limit == n and nxt - (csz & 1) > n:
                truncated = True
            p = limit
            break
        p = nxt
    if not seen_comm and not truncated:
        return None
    if truncated:
        end = n
    elif declared <= n:
        end = declared
        soft = p < declared
    elif junk:
        end = p
        extra["declared_length"] = declared - pos
    else:
        end, truncated = n, True
    return Probe(
        end - pos,
        "aiff",
        codec,
        truncated,
        seen_comm and seen_ssnd,
        "aiff",
        extra,
        soft_end=soft or truncated,
    )
