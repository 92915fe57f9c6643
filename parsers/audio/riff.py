"""RIFF family: WAVE (PCM, µ-law, A-law, GSM 6.10 / WAV49, IMA/MS ADPCM, MP3) and QCP (QLCM).

Length is ``8 + RIFF size`` (+ a pad byte when odd), cross-checked by walking the chunks:
writers that crashed or streamed leave 0 or 0xFFFFFFFF in the size fields, and a lying
size must not swallow the files that follow. RF64 takes its sizes from ``ds64``.
"""

from __future__ import annotations

import struct

from construct import Bytes, Int8ul, Int16ul, Int32ul, Int64ul, Struct

from parsers.audio.probe import Buffer, Probe, printable4

SIGNATURES = (b"RIFF", b"RF64")

RIFF_HEADER = Struct("id" / Bytes(4), "size" / Int32ul, "form" / Bytes(4))
CHUNK_HEADER = Struct("id" / Bytes(4), "size" / Int32ul)
DS64 = Struct("riff_size" / Int64ul, "data_size" / Int64ul, "sample_count" / Int64ul)
WAVE_FMT = Struct(
    "format_tag" / Int16ul,
    "channels" / Int16ul,
    "sample_rate" / Int32ul,
    "byte_rate" / Int32ul,
    "block_align" / Int16ul,
    "bits_per_sample" / Int16ul,
)
QCP_FMT = Struct(
    "major" / Int8ul,
    "minor" / Int8ul,
    "codec_guid" / Bytes(16),
    "codec_version" / Int16ul,
    "codec_name" / Bytes(80),
    "average_bps" / Int16ul,
    "packet_size" / Int16ul,
    "block_size" / Int16ul,
    "sample_rate" / Int16ul,
    "sample_size" / Int16ul,
)

WAVE_CODECS = {
    0x0001: "pcm",
    0x0003: "pcm",
    0x0006: "alaw",
    0x0007: "mulaw",
    0x0002: "adpcm",
    0x0011: "adpcm",
    0x0031: "gsm",
    0x0055: "mp3",
}
QCP_GUIDS = {
    bytes.fromhex("416d7f5e15b1d011ba9100805fb4b97e"): ("qcelp", "qcelp-13k"),
    bytes.fromhex("426d7f5e15b1d011ba9100805fb4b97e"): ("qcelp", "qcelp-13k"),
    bytes.fromhex("8dd489e67690b54691ef736a5100ceb4"): (None, "evrc"),
    bytes.fromhex("752b7c8d97a749ed985ed53c8cc75f84"): (None, "smv"),
    bytes.fromhex("ca29fd3c53f6f54e90e9f4236d599b61"): (None, "4gv"),
}
_UNSET = (0, 0xFFFFFFFF)
# Chunks that may legitimately run past the data's end (a cut file); an unknown name
# with a size past the end is junk, not a truncated chunk.
KNOWN_CHUNKS = frozenset(
    [
        b"fmt ",
        b"data",
        b"fact",
        b"LIST",
        b"JUNK",
        b"junk",
        b"bext",
        b"ds64",
        b"cue ",
        b"smpl",
        b"inst",
        b"acid",
        b"id3 ",
        b"ID3 ",
        b"PEAK",
        b"cart",
        b"iXML",
        b"PAD ",
        b"labl",
        b"vrat",
        b"offs",
        b"plst",
        b"DISP",
        b"wavl",
        b"slnt",
        b"axml",
        b"umid",
    ]
)


def _fmt(payload: bytes, form: bytes) -> tuple[str | None, dict]:
    if form == b"WAVE":
        if len(payload) < 14:
            return None, {}
        f = WAVE_FMT.parse(payload.ljust(16, b"\0"))
        tag = f.format_tag
        if tag == 0xFFFE and len(payload) >= 26:
            tag = struct.unpack_from("<H", payload, 24)[0]  # SubFormat GUID's first field
        extra = {
            "sample_rate": f.sample_rate,
            "channels": f.channels,
            "format_tag": tag,
        }
        if not (1 <= f.channels <= 64 and 1 <= f.sample_rate <= 1_000_000):
            return None, {"bad_fmt": True}
        return WAVE_CODECS.get(tag), extra
    if len(payload) < QCP_FMT.sizeof():
        return None, {}
    q = QCP_FMT.parse(payload[: QCP_FMT.sizeof()])
    codec, name = QCP_GUIDS.get(bytes(q.codec_guid), (None, None))
    extra = {"sample_rate": q.sample_rate, "channels": 1}
    if name:
        extra["codec_name"] = name
    return codec, extra


def probe(buf: Buffer, pos: int) -> Probe | None:
    n = len(buf)
    if n - pos < 12:
        return None
    rid, size, form = struct.unpack_from("<4sI4s", buf, pos)
    if rid not in SIGNATURES or form not in (b"WAVE", b"QLCM"):
        return None
    container = "wav" if form == b"WAVE" else "qcp"
    p = pos + 12
    data_size64 = None
    if rid == b"RF64":
        if n - p < 8 + DS64.sizeof():
            return Probe(n - pos, container, None, True, False, soft_end=True)
        if bytes(buf[p : p + 4]) != b"ds64":
            return None  # RF64 must open with its 64-bit sizes
        ds = DS64.parse(bytes(buf[p + 8 : p + 8 + DS64.sizeof()]))
        size, data_size64 = ds.riff_size, ds.data_size
    declared = None if size in _UNSET else pos + 8 + size + (size & 1)
    codec: str | None = None
    extra: dict = {}
    seen_fmt = seen_data = False
    truncated = junk = soft = False
    limit = declared if declared is not None and declared <= n else n
    while p + 8 <= limit:
        cid, csz = struct.unpack_from("<4sI", buf, p)
        if not printable4(cid):
            junk = True
            break
        if cid == b"data" and data_size64 is not None and csz == 0xFFFFFFFF:
            csz = data_size64
        elif cid == b"data" and csz in _UNSET and declared is None:
            csz = n - p - 8  # streamed without sizes: the data runs to what is there
        if cid == b"fmt " and not seen_fmt:
            if p + 8 + csz > n:
                truncated = True
                break
            codec, extra = _fmt(bytes(buf[p + 8 : p + 8 + min(csz, 4096)]), form)
            if extra.get("bad_fmt"):
                return None
            seen_fmt = True
        elif cid == b"data":
            seen_data = True
            extra["data_offset"] = p + 8 - pos
            extra["data_size"] = csz
        nxt = p + 8 + csz + (csz & 1)
        if nxt > limit:
            if cid not in KNOWN_CHUNKS:
                junk = True  # a size no writer produced: not ours
                break
            if limit == n and nxt - (csz & 1) > n:
                truncated = True  # the chunk runs past the data
            p = limit
            break
        p = nxt
    if not seen_fmt and not truncated:
        return None  # no format chunk: a RIFF magic followed by junk
    if truncated:
        end = n
    elif declared is not None and declared <= n:
        end = declared  # trust the size when it fits; the walk may stop at trailing junk
        if p < declared:
            extra["riff_size_vs_chunks"] = p - pos
            soft = True
    elif junk or declared is None:
        end = p  # the size lies (or was never written): the chunks end here
        if declared is not None:
            extra["declared_length"] = declared - pos
    else:
        end, truncated = n, True  # out of data while the size says more follows
    return Probe(
        length=end - pos,
        container=container,
        codec=codec,
        truncated=truncated,
        plausible=seen_fmt and (seen_data or truncated),
        demuxer="wav" if container == "wav" else "qcp",
        extra=extra,
        soft_end=soft or truncated,
    )
