"""Shared tests for protected audio: does a head look like audio, is data random-looking,
does a path lie where voicemail is kept, which app owns a path.

The head test is deliberately cheap and loose (a magic number, or a plausible MPEG
frame header): it only decides whether a candidate decoding deserves the expensive
check, :func:`parsers.audio.carve.identify` with a full decode, which is what makes a
recovered object ``decodes: true``.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter

from parsers.apps import is_voicemail_app, package_of
from parsers.audio.carve import Hit, identify

MAX_BYTES = 64 << 20  # larger stored files are left to the carver (and said so)
ENTROPY_HEAD = 4096
HIGH_ENTROPY = 7.5  # bits per byte over the first ENTROPY_HEAD bytes

_MAGICS = (b"#!AMR", b"ID3", b"OggS", b"fLaC", b"caff")

# Heads of formats that are certainly not protected audio: skipped by the XOR search.
NOT_AUDIO = (
    b"SQLite format 3\x00",
    b"bplist",
    b"<?xml",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"PK\x03\x04",
    b"dex\n",
    b"\x7fELF",
    b"%PDF",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ",
    b"7z\xbc\xaf",
    b"wOFF",
    b"wOF2",
)


def known_other_format(data: bytes) -> bool:
    """A head that names a non-audio format (image, archive, database, compressed...)."""
    return data.startswith(NOT_AUDIO) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def compressed(data: bytes) -> bool:
    """A zlib stream whose first 256 output bytes inflate cleanly: compressed data (of
    something that is not audio), not ciphertext. Random bytes with a valid zlib header
    almost never get that far (a back-reference past the start of output fails)."""
    h = data[:2]
    if len(h) < 2 or h[0] & 0x0F != 8 or h[0] >> 4 > 7 or ((h[0] << 8) | h[1]) % 31:
        return False
    try:
        out = zlib.decompressobj(15).decompress(data[:4096], 256)
    except zlib.error:
        return False
    return len(out) >= 256


def starts_with_audio(data: bytes) -> bool:
    """An audio structure at offset 0 (however short): plain audio, not ciphertext."""
    if not audio_head(data):
        return False
    hit = identify(data, decode=False)
    return hit is not None and hit.length >= 256


def audio_head(head: bytes | bytearray | memoryview) -> bool:
    """True when ``head`` starts like an audio container or an MPEG audio frame."""
    h = bytes(head[:16])
    if h.startswith(_MAGICS):
        return True
    if h[:4] in (b"RIFF", b"RF64") and h[8:12] in (b"WAVE", b"QLCM"):
        return True
    if h[:4] == b"FORM" and h[8:12] in (b"AIFF", b"AIFC"):
        return True
    if h[4:8] == b"ftyp":
        return True
    if len(h) >= 4 and h[0] == 0xFF and (h[1] & 0xE0) == 0xE0:
        version, layer = (h[1] >> 3) & 3, (h[1] >> 1) & 3
        bitrate, rate = h[2] >> 4, (h[2] >> 2) & 3
        return version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3
    return False


def entropy(data: bytes | bytearray | memoryview) -> float:
    """Shannon entropy in bits per byte."""
    n = len(data)
    if not n:
        return 0.0
    counts = Counter(bytes(data))
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def high_entropy(data: bytes) -> bool:
    return len(data) >= 64 and entropy(data[:ENTROPY_HEAD]) > HIGH_ENTROPY


_PRINTABLE = bytes(range(32, 127)) + b"\t\n\r"


def printable_ratio(data: bytes) -> float:
    if not data:
        return 0.0
    return 1 - len(data.translate(None, _PRINTABLE)) / len(data)


def recovered(data: bytes) -> Hit | None:
    """The audio object at the start of recovered bytes, only when it really decodes."""
    if not audio_head(data):
        return None
    hit = identify(data)
    if hit is None or not hit.decodes or hit.offset != 0:
        return None
    return hit


def explained(data: bytes) -> bool:
    """An audio object at offset 0 that covers most of the bytes: the carver's business."""
    if not audio_head(data):
        return False
    hit = identify(data, decode=False)
    return hit is not None and hit.length >= max(64, len(data) // 2)


_VM_PATH = re.compile(
    r"(^|/)app_voicemail-data/|(^|/)Library/Voicemail/|voicemail|vvm", re.IGNORECASE
)


def voicemail_location(path: str) -> bool:
    """A place where voicemail audio is kept: a voicemail app's folder, the platform
    provider's ``app_voicemail-data``, iOS ``Library/Voicemail``, or a path naming it."""
    pkg = package_of(path)
    if pkg is not None and is_voicemail_app(pkg):
        return True
    return _VM_PATH.search(path) is not None
