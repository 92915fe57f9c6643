"""XOR-obfuscated audio: single-byte or repeating keys up to :data:`MAX_PERIOD` bytes,
over the whole file or over its first bytes only.

The key is never guessed blindly; it is recovered from known plaintext. Every container
starts with bytes that are fixed or computable (``#!AMR\\n``; ``RIFF`` + the file size
- 8 + ``WAVEfmt ``; ``OggS`` version 0, header type 2 and a zero granule position; a
CAF ``desc`` chunk...): XOR-ing them with the stored bytes gives the key bytes at those
positions. A period ``p`` is accepted when the known positions that fall on the same key
byte agree (at least :data:`MIN_CHECKS` independent agreements) and together cover every
key byte. When a container's known head is shorter than the key, the period is found
from the ciphertext itself (bytes ``p`` apart are equal far more often than chance only
when ``p`` is a multiple of the key length and the audio repeats bytes, as PCM silence
and container padding do), and each key byte not covered by the head is the most common
stored byte in its column XOR the most common plaintext byte (which the covered columns
tell). Whatever the derivation, a key is accepted only when the de-obfuscated bytes
decode as audio; the key itself is never reported, only its length and how it was found.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from parsers.audio.carve import Hit, identify
from parsers.protection.common import recovered

MAX_PERIOD = 32
MIN_CHECKS = 2
SAMPLE = 1 << 15  # bytes used for column statistics
LAG_SAMPLE = 1 << 13  # bytes used to find the period
STRUCT_CHECK = 1 << 16  # bytes de-obfuscated for the cheap structure check
PREFIX_LENGTHS = (16, 32, 48, 64, 128, 256, 512, 1024, 4096)
MAX_VERIFY = 8  # full decodes per file at most
REPEAT_RATE = 0.08  # share of equal bytes p apart that marks a period (chance is 1/256)

_MP4_BRANDS = (b"M4A ", b"isom", b"mp42", b"mp41", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"qt  ")


def _known(*parts: tuple[int, bytes]) -> dict[int, int]:
    out: dict[int, int] = {}
    for pos, chunk in parts:
        for i, b in enumerate(chunk):
            out[pos + i] = b
    return out


def _fixed_templates() -> list[tuple[str, dict[int, int]]]:
    ogg = ((0, b"OggS\x00\x02" + bytes(8)), (18, bytes(4)))
    out = [
        ("amr-wb", _known((0, b"#!AMR-WB\n"))),
        ("amr", _known((0, b"#!AMR\n"))),
        ("wav", _known((0, b"RIFF"), (8, b"WAVEfmt "))),
        ("ogg-opus", _known(*ogg, (26, b"\x01\x13OpusHead\x01"))),
        ("ogg-vorbis", _known(*ogg, (26, b"\x01\x1e\x01vorbis"))),
        ("ogg-flac", _known(*ogg, (26, b"\x01\x33\x7fFLAC"))),
        ("ogg", _known(*ogg)),
        ("flac", _known((0, b"fLaC\x80\x00\x00\x22"))),
        ("flac", _known((0, b"fLaC\x00\x00\x00\x22"))),
        ("mp3", _known((0, b"ID3\x04\x00\x00"))),
        ("mp3", _known((0, b"ID3\x03\x00\x00"))),
        ("caf", _known((0, b"caff\x00\x01\x00\x00desc" + bytes(7) + b"\x20"))),
    ]
    for brand in _MP4_BRANDS:
        out.append(("mp4", _known((0, b"\x00\x00\x00"), (4, b"ftyp" + brand))))
    return out


_FIXED = _fixed_templates()


def templates(n: int) -> list[tuple[str, dict[int, int]]]:
    """Known plaintext of each container's head, for a stored object of ``n`` bytes
    (RIFF and AIFF heads carry the object's size)."""
    size_le = struct.pack("<I", max(0, n - 8) & 0xFFFFFFFF)
    size_be = struct.pack(">I", max(0, n - 8) & 0xFFFFFFFF)
    sized = [
        ("wav", _known((0, b"RIFF" + size_le + b"WAVEfmt " + struct.pack("<I", fmt_size))))
        for fmt_size in (16, 18, 20)
    ]
    sized += [("aiff", _known((0, b"FORM" + size_be + form))) for form in (b"AIFF", b"AIFC")]
    return sized + _FIXED


@dataclass
class Recovery:
    method: str
    data: bytes = field(repr=False)
    hit: Hit


def xor_with(data: bytes, key: bytes, upto: int | None = None) -> bytes:
    """``data`` XOR the repeated ``key`` (over the first ``upto`` bytes only, if given)."""
    n = len(data) if upto is None else min(upto, len(data))
    if n <= 0:
        return bytes(data)
    stream = (key * (n // len(key) + 1))[:n]
    body = int.from_bytes(data[:n], "little") ^ int.from_bytes(stream, "little")
    return body.to_bytes(n, "little") + bytes(data[n:])


def _repeat_rates(sample: bytes) -> list[tuple[int, float]]:
    """For each lag p, the share of bytes equal to the byte p before them."""
    x = int.from_bytes(sample, "little")
    out = []
    for p in range(1, MAX_PERIOD + 1):
        n = len(sample) - p
        if n <= 0:
            break
        diff = (x ^ (x >> (8 * p))) & ((1 << (8 * n)) - 1)
        out.append((p, diff.to_bytes(n, "little").count(0) / n))
    return out


def _column_modes(sample: bytes, p: int) -> list[int]:
    return [Counter(sample[r::p]).most_common(1)[0][0] for r in range(p)]


def _header_keys(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Keys fixed by a container head alone, smallest period first per template."""
    n = len(data)
    seen: set[bytes] = set()
    for _name, known in templates(n):
        kb = [(pos, data[pos] ^ v) for pos, v in known.items() if pos < n]
        for p in range(1, min(MAX_PERIOD, len(kb)) + 1):
            key: list[int | None] = [None] * p
            checks = 0
            ok = True
            for pos, b in kb:
                r = pos % p
                if key[r] is None:
                    key[r] = b
                elif key[r] != b:
                    ok = False
                    break
                else:
                    checks += 1
            if not ok or checks < MIN_CHECKS or any(k is None for k in key):
                continue
            k = bytes(key)  # type: ignore[arg-type]
            if any(k) and k not in seen:
                seen.add(k)
                yield "derived from container header", k
            break


def _statistical_keys(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Keys whose length comes from repeats in the stored bytes, anchored by a known head."""
    sample = data[:SAMPLE]
    periods = [p for p, rate in _repeat_rates(data[:LAG_SAMPLE]) if rate >= REPEAT_RATE]
    if not periods:
        return
    p = periods[0]  # the smallest repeating lag is the key length (others are multiples)
    modes = _column_modes(sample, p)
    seen: set[bytes] = set()
    for _name, known in templates(len(data)):
        kb = {pos % p: data[pos] ^ v for pos, v in known.items() if pos < len(data)}
        votes = Counter(modes[r] ^ b for r, b in kb.items())
        if not votes:
            continue
        plain, agree = votes.most_common(1)[0]
        if agree < max(2, len(kb) // 2):
            continue
        key = bytes(kb.get(r, modes[r] ^ plain) for r in range(p))
        if any(key) and key not in seen:
            seen.add(key)
            yield "derived from container header and byte statistics", key


def _structure_ok(plain: bytes) -> bool:
    head = plain[:STRUCT_CHECK]
    hit = identify(head, decode=False)
    return hit is not None and (hit.truncated or hit.length >= len(head) * 9 // 10)


def recover(data: bytes) -> Recovery | None:
    """The audio under a XOR obfuscation of ``data``, or None."""
    if len(data) < 64:
        return None
    tried = 0
    for source in (_header_keys(data), _statistical_keys(data)):
        for how, key in source:
            spans: tuple[int | None, ...] = (None,)
            if how == "derived from container header":
                # largest first: de-obfuscating too few bytes can leave corrupted payload
                # that still decodes, too many breaks the structure after the true span
                spans += tuple(n for n in reversed(PREFIX_LENGTHS) if len(key) <= n < len(data))
            for upto in spans:
                plain = xor_with(data[: upto or STRUCT_CHECK], key, upto)
                if not _structure_ok(plain + data[len(plain) : STRUCT_CHECK]):
                    continue
                if tried >= MAX_VERIFY:
                    return None
                tried += 1
                plain = xor_with(data, key, upto)
                hit = recovered(plain)
                if hit is None:
                    continue
                span = "" if upto is None else f", first {upto} bytes"
                return Recovery(f"xor(len={len(key)}{span}, {how})", plain[: hit.length], hit)
    return None
