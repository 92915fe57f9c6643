"""ISO base media (MP4, M4A, 3GP, 3G2): walk top-level boxes from ``ftyp``.

The object ends at the first top-level box that is not a known top-level type, or at a
second ``ftyp`` (the next file). ``3g*`` major brands make the container ``3gp``.
"""

from __future__ import annotations

import struct

from construct import Bytes, GreedyRange, Int32ub, Struct

from parsers.audio.probe import Buffer, Probe

SIGNATURES = (b"ftyp",)
MAGIC_OFFSET = 4  # the signature sits after the ftyp box's size field

FTYP = Struct(
    "major_brand" / Bytes(4),
    "minor_version" / Int32ub,
    "compatible" / GreedyRange(Bytes(4)),
)
TOP_LEVEL = frozenset(
    b"free skip wide mdat moov udta meta uuid moof mfra sidx pdin styp prft emsg ssix "
    b"mvex pnot junk PICT".split()
)
SAMPLE_ENTRIES = {
    b"samr": "amr-nb",
    b"sawb": "amr-wb",
    b"mp4a": "aac",
    b"Opus": "opus",
    b"alac": "alac",
    b"fLaC": "flac",
    b".mp3": "mp3",
    b"sqcp": "qcelp",
    b"ulaw": "mulaw",
    b"alaw": "alaw",
    b"lpcm": "pcm",
    b"sowt": "pcm",
    b"twos": "pcm",
    b"ima4": "adpcm",
}


def _brand_ok(b: bytes) -> bool:
    return all(c in b" 0123456789" or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A for c in b)


def _compatible_ok(b: bytes) -> bool:
    return b == b"\0\0\0\0" or _brand_ok(b)


def _container(major: bytes, compatible: list[bytes]) -> str:
    """``3gp`` for 3GPP/3GPP2 files (major brand 3g*, or a 3g* brand beside an
    operator's own major brand such as KDDI's ``kddi``), ``mp4`` otherwise."""
    if major.startswith(b"3g"):
        return "3gp"
    if major in (b"M4A ", b"M4B ", b"mp41", b"mp42", b"isom", b"iso2", b"qt  "):
        return "mp4"
    return "3gp" if any(c.startswith(b"3g") for c in compatible) else "mp4"


def _max_chunk_offset(moov: bytes) -> int:
    """The largest media chunk offset (``stco``/``co64``) the movie refers to."""
    best = -1
    for tag, width in ((b"stco", 4), (b"co64", 8)):
        i = moov.find(tag)
        while i != -1:
            if i + 12 <= len(moov):
                count = struct.unpack_from(">I", moov, i + 8)[0]
                if count and i + 12 + count * width <= len(moov):
                    fmt = f">{count}{'I' if width == 4 else 'Q'}"
                    best = max(best, max(struct.unpack_from(fmt, moov, i + 12)))
            i = moov.find(tag, i + 4)
    return best


def _codec(moov: bytes) -> tuple[str | None, str | None]:
    """The first audio sample entry type under any ``stsd`` of the movie."""
    i = moov.find(b"stsd")
    while i != -1:
        entry = moov[i + 16 : i + 20]
        if entry in SAMPLE_ENTRIES:
            return SAMPLE_ENTRIES[entry], entry.decode("latin-1")
        i = moov.find(b"stsd", i + 4)
    return None, None


def probe(buf: Buffer, pos: int) -> Probe | None:
    n = len(buf)
    if n - pos < 12:
        return None
    size, typ = struct.unpack_from(">I4s", buf, pos)
    if typ != b"ftyp" or size < 12 or size > 1024 or size % 4:
        return None
    if pos + size > n:
        head = bytes(buf[pos + 8 : n])
        if not _brand_ok(head[:4]):
            return None
        container = "3gp" if head.startswith(b"3g") else "mp4"
        stub = {"brand": head[:4].decode("ascii")}
        return Probe(n - pos, container, None, True, False, "mov", stub, soft_end=True)
    ftyp = FTYP.parse(bytes(buf[pos + 8 : pos + size]).ljust(8, b"\0"))
    brand = bytes(ftyp.major_brand)
    compatible = [bytes(c) for c in ftyp.compatible]
    if not _brand_ok(brand) or not all(_compatible_ok(c) for c in compatible):
        return None
    container = _container(brand, compatible)
    extra: dict = {"brand": brand.decode("ascii")}
    p = pos + size
    boxes: list[str] = []
    codec = None
    truncated = False
    media_at = -1
    while p + 8 <= n:
        bsize, btyp = struct.unpack_from(">I4s", buf, p)
        if btyp not in TOP_LEVEL:
            break
        if bsize == 1:
            if p + 16 > n:
                truncated = True
                p = n
                break
            bsize = struct.unpack_from(">Q", buf, p + 8)[0]
            if bsize < 16:
                break
        elif bsize == 0:
            bsize = n - p  # to the end of the file: all there is
            extra["open_ended"] = True
        elif bsize < 8:
            break
        if btyp == b"moov" and codec is None:
            moov = bytes(buf[p : min(n, p + bsize, p + (64 << 20))])
            codec, entry = _codec(moov)
            if entry:
                extra["sample_entry"] = entry
            media_at = _max_chunk_offset(moov)
        boxes.append(btyp.decode("latin-1"))
        if p + bsize > n:
            truncated = True
            p = n
            break
        p += bsize
    extra["boxes"] = boxes
    if not truncated and media_at >= p - pos:
        truncated = True  # the movie points at media past the object's end
        extra["media_past_end"] = media_at
    if not truncated and "moov" not in boxes and "moof" not in boxes and p >= n:
        truncated = True  # out of data before the movie header
    has_media = "moov" in boxes and ("mdat" in boxes or "moof" in boxes)
    return Probe(
        length=p - pos,
        container=container,
        codec=codec,
        truncated=truncated,
        plausible=has_media or (truncated and "moov" in boxes),
        demuxer="mov",
        extra=extra,
        soft_end=truncated and p == n,  # a box size runs past the data
    )
