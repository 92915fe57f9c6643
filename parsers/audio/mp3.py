"""MPEG audio Layer III: optional ID3v2 tag, a walk over frame headers, optional ID3v1.

Only Layer III is searched (voicemail MP3 is Layer III; accepting layers I/II would make
every 0xFFFF of an erased flash page a candidate). MPEG-1, MPEG-2 and MPEG-2.5 (8 kHz
telephony MP3, header ``FF E3``) are walked alike. The walk stops at the first header
that is invalid or changes version, layer or sample rate; a Xing/Info or VBRI frame
count, when present, ends it exactly and marks a stream that stops early as truncated;
a later frame that carries a Xing/Info tag starts the next file. Two tag-less streams
without such frames, of the same version and sample rate, back to back, merge.
"""

from __future__ import annotations

import re
import struct

from construct import Bytes, Const, Int8ub, Struct

from parsers.audio import flac
from parsers.audio.probe import Buffer, Probe

SIGNATURES = (b"ID3",)
# Frame sync + Layer III version byte + a third byte that frame_info can accept (bitrate
# index 1-14, sample-rate index 0-2): random data matches the two-byte sync every 11 KiB
# or so, and this third byte drops a quarter of those before Python sees them.
_THIRD = bytes(h << 4 | low for h in range(1, 15) for low in range(16) if (low >> 2) & 3 != 3)
SYNC_RE = re.compile(
    rb"\xff[\xe2\xe3\xf2\xf3\xfa\xfb][" + b"".join(re.escape(bytes([c])) for c in _THIRD) + rb"]"
)

ID3V2_HEADER = Struct(
    "magic" / Const(b"ID3"),
    "major" / Int8ub,
    "revision" / Int8ub,
    "flags" / Int8ub,
    "size" / Bytes(4),  # synch-safe: 4 × 7 bits
)
ID3V1_LENGTH = 128
MIN_FRAMES_BARE = 4  # without a tag, a run this long before it counts as MP3

# kbit/s for Layer III, index 1-14.
_BITRATES_V1 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_BITRATES_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_VERSION_NAMES = {3: "mpeg-1", 2: "mpeg-2", 0: "mpeg-2.5"}


def frame_info(b1: int, b2: int) -> tuple[int, int, int] | None:
    """(key, sample_rate, frame_length) for a Layer III header, None when invalid.

    ``key`` holds version and sample-rate bits: frames of one stream share it.
    """
    version = (b1 >> 3) & 3
    if version == 1 or (b1 >> 1) & 3 != 1:
        return None
    bi = b2 >> 4
    si = (b2 >> 2) & 3
    if bi == 0 or bi == 15 or si == 3:
        return None
    rate = _RATES[version][si]
    pad = (b2 >> 1) & 1
    if version == 3:
        length = 144000 * _BITRATES_V1[bi] // rate + pad
    else:
        length = 72000 * _BITRATES_V2[bi] // rate + pad
    return (version << 2) | si, rate, length


def _valid_header(buf: Buffer, p: int) -> tuple[int, int, int] | None:
    if buf[p] != 0xFF or (buf[p + 1] & 0xE0) != 0xE0 or (buf[p + 3] & 3) == 2:
        return None
    return frame_info(buf[p + 1], buf[p + 2])


def _vbr_frames(buf: Buffer, p: int, flen: int) -> int | None:
    """Frame count from a Xing/Info or VBRI header in the frame at ``p``, if any."""
    off = p + _info_offset(buf[p + 1], buf[p + 3])
    if off + 12 <= p + flen and bytes(buf[off : off + 4]) in (b"Xing", b"Info"):
        flags = struct.unpack_from(">I", buf, off + 4)[0]
        if flags & 1:
            return struct.unpack_from(">I", buf, off + 8)[0]
        return None
    off = p + 36
    if off + 18 <= p + flen and bytes(buf[off : off + 4]) == b"VBRI":
        return struct.unpack_from(">I", buf, off + 14)[0]
    return None


def _info_offset(b1: int, b3: int) -> int:
    mono = (b3 >> 6) == 3
    if ((b1 >> 3) & 3) == 3:
        return 4 + (17 if mono else 32)
    return 4 + (9 if mono else 17)


def _has_info_tag(buf: Buffer, p: int, flen: int) -> bool:
    off = p + _info_offset(buf[p + 1], buf[p + 3])
    return off + 4 <= min(p + flen, len(buf)) and bytes(buf[off : off + 4]) in (b"Xing", b"Info")


def _id3v2_length(buf: Buffer, pos: int) -> int | None:
    if len(buf) - pos < 10:
        return None
    head = bytes(buf[pos : pos + 10])
    if not head.startswith(b"ID3"):
        return None
    h = ID3V2_HEADER.parse(head)
    if h.major in (0xFF,) or h.major < 2 or h.major > 4 or h.revision == 0xFF:
        return None
    if any(c & 0x80 for c in h.size):
        return None
    size = (h.size[0] << 21) | (h.size[1] << 14) | (h.size[2] << 7) | h.size[3]
    return 10 + size + (10 if h.flags & 0x10 else 0)


def walk(buf: Buffer, p: int, max_frames: int | None = None) -> tuple[int, int, int, bool, dict]:
    """Frames from ``p``: (end, frames, sample_rate, truncated, extra)."""
    n = len(buf)
    key = None
    frames = 0
    rate = 0
    expected: int | None = None
    extra: dict = {}
    while p + 4 <= n:
        info = _valid_header(buf, p)
        if info is None or (key is not None and info[0] != key):
            break
        k, r, flen = info
        if key is not None and _has_info_tag(buf, p, flen):
            break  # a Xing/Info frame opens the next encoder's stream
        if key is None:
            key, rate = k, r
            extra["mpeg_version"] = _VERSION_NAMES[(buf[p + 1] >> 3) & 3]
            if p + flen <= n:
                vf = _vbr_frames(buf, p, flen)
                if vf is not None:
                    expected = vf + 1  # the Xing/Info frame itself carries no audio
                    extra["xing_frames"] = vf
        if p + flen > n:
            return n, frames, rate, True, extra
        p += flen
        frames += 1
        if expected is not None and frames >= expected:
            break
        if max_frames is not None and frames >= max_frames:
            break
    if p + 4 > n and p < n and expected is not None and frames < expected:
        return n, frames, rate, True, extra  # a header cut inside its first 4 bytes
    truncated = expected is not None and frames < expected
    return p, frames, rate, truncated, extra


def probe(buf: Buffer, pos: int) -> Probe | None:
    n = len(buf)
    tag = _id3v2_length(buf, pos)
    if tag is not None:
        if pos + tag > n:
            return Probe(n - pos, "mp3", "mp3", True, False, "mp3", {"id3v2": tag}, soft_end=True)
        start = pos + tag
        if bytes(buf[start : start + 4]) == b"fLaC":
            inner = flac.probe(buf, start)  # FLAC files may carry an ID3v2 tag in front
            if inner is not None:
                inner.length += tag
                inner.extra["id3v2"] = tag
            return inner
        if start + 4 > n or _valid_header(buf, start) is None:
            return None  # a tag with no MPEG audio after it (or another format's tag)
        min_frames = 1
    else:
        if pos + 4 > n or _valid_header(buf, pos) is None:
            return None
        start = pos
        min_frames = MIN_FRAMES_BARE
    end, frames, rate, truncated, extra = walk(buf, start)
    if frames < min_frames and not truncated:
        return None
    if frames < min_frames and tag is None:
        return None
    if not truncated and end + ID3V1_LENGTH <= n and bytes(buf[end : end + 3]) == b"TAG":
        end += ID3V1_LENGTH
        extra["id3v1"] = True
    if tag is not None:
        extra["id3v2"] = tag
    extra["frames"] = frames
    extra["sample_rate"] = rate
    return Probe(end - pos, "mp3", "mp3", truncated, frames >= min_frames, "mp3", extra)
