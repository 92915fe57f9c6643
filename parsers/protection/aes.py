"""AES-encrypted audio opened with keys found in the same evidence.

Only random-looking stored bytes are candidates (entropy of the first 4 KiB above
:data:`parsers.protection.common.HIGH_ENTROPY` bits per byte, size
:data:`MIN_SIZE`..:data:`parsers.protection.common.MAX_BYTES`). The first plaintext block
of every mode below is what decides whether a key is worth more work, and it is computed
for all candidates at once (:class:`Batch`: two raw AES calls and two XORs per key):

- ECB; CBC with a zero IV (same first block as ECB); CBC with the IV as a 16-byte prefix;
- CTR with the 16-byte initial counter block as prefix, with a 12-byte nonce prefix
  (32-bit counter from 0), with an 8-byte nonce prefix (64-bit counter from 0), with a
  zero counter block;
- GCM with a 12-byte nonce prefix and a 16-byte tag suffix (the first keystream block
  is counter 2), then ``decrypt_and_verify``, so a wrong key fails on the tag.

Only a block that starts like audio goes further: 64 KiB are decrypted for a structure
check, then the whole object, and :func:`parsers.protection.common.recovered` must decode
it. A wrong key therefore never yields ``decodes: true``. Work is bounded by
:data:`MAX_TRIALS` key × candidate pairs per source (keys beyond it are not tried, and
the caller says so).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from Crypto.Cipher import AES

from parsers.audio.carve import Hit, identify
from parsers.protection.common import audio_head, recovered
from parsers.protection.keyhunt import Key

MIN_SIZE = 1024
MAX_TRIALS = 4_000_000
STRUCT_CHECK = 1 << 16
ZERO16 = bytes(16)

# name, label given bits and key text
MODES = (
    ("ecb", "aes-{bits}-ecb({key})"),
    ("cbc-zero", "aes-{bits}-cbc(iv=zero, {key})"),
    ("cbc-prefix", "aes-{bits}-cbc(iv=prefix, {key})"),
    ("ctr-prefix16", "aes-{bits}-ctr(counter block=16-byte prefix, {key})"),
    ("ctr-prefix12", "aes-{bits}-ctr(nonce=12-byte prefix, counter from 0, {key})"),
    ("ctr-prefix8", "aes-{bits}-ctr(nonce=8-byte prefix, counter from 0, {key})"),
    ("ctr-zero", "aes-{bits}-ctr(counter block=zero, {key})"),
    ("gcm", "aes-{bits}-gcm(nonce=12-byte prefix, tag=16-byte suffix, {key})"),
)


def _xor(a: bytes, b: bytes) -> bytes:
    n = min(len(a), len(b))
    return (int.from_bytes(a[:n], "big") ^ int.from_bytes(b[:n], "big")).to_bytes(n, "big")


@dataclass
class Recovery:
    method: str
    key: Key
    data: bytes = field(repr=False)
    hit: Hit


HEAD = 32  # stored bytes of each candidate the batched test needs
_CTR_MODES = ("ctr-prefix16", "ctr-prefix12", "ctr-prefix8", "ctr-zero", "gcm")
_FIRST = re.compile(rb"[#IOfcRF\xff]")
_FTYP = re.compile(rb"f")
_SECOND = {
    ord("#"): b"!",
    ord("I"): b"D",
    ord("O"): b"g",
    ord("f"): b"L",
    ord("c"): b"a",
    ord("R"): b"IF",
    ord("F"): b"O",
    0xFF: bytes(range(0xE0, 0x100)),
}


def _audio_blocks(buf: bytes) -> list[int]:
    """Offsets of the 16-byte blocks of ``buf`` that start like audio.

    Strided slices (C speed) pick each block's first, second and fifth bytes, so the
    Python-level test runs on a few blocks per key, not on every block.
    """
    firsts, seconds = buf[0::16], buf[1::16]
    found = [
        k * 16
        for k in (m.start() for m in _FIRST.finditer(firsts))
        if seconds[k] in _SECOND[firsts[k]]
    ]
    fifths = buf[4::16]
    found += [m.start() * 16 for m in _FTYP.finditer(fifths) if buf[m.start() * 16 + 5] == 0x74]
    return sorted(p for p in set(found) if audio_head(buf[p : p + 16]))


def _usable(size: int) -> dict[str, bool]:
    return {
        "ecb": size % 16 == 0,
        "cbc-zero": size % 16 == 0,
        "cbc-prefix": size > 32 and size % 16 == 0,
        "ctr-prefix16": size > 32,
        "ctr-prefix12": size > 28,
        "ctr-prefix8": size > 24,
        "ctr-zero": True,
        "gcm": size > 44,
    }


class Batch:
    """Many candidates tested against one key at a time, with two AES calls per key.

    Only each candidate's first :data:`HEAD` stored bytes are held. Per key, one ECB
    decryption of every candidate's first two blocks gives the ECB / CBC heads, one ECB
    encryption of every candidate's five counter blocks gives the CTR / GCM keystreams;
    two big-integer XORs turn them into the first plaintext block of every mode of every
    candidate, and one regular-expression pass finds those that start like audio.
    """

    def __init__(self, heads: list[tuple[bytes, int]]) -> None:
        self.sizes = [size for _, size in heads]
        self.usable = [_usable(size) for size in self.sizes]
        hs = [h[:HEAD].ljust(HEAD, b"\x00") for h, _ in heads]
        self.first = b"".join(hs)
        self.counters = b"".join(
            h[:16] + h[:12] + bytes(4) + h[:8] + bytes(8) + ZERO16 + h[:12] + (2).to_bytes(4, "big")
            for h in hs
        )
        self.sd = b"".join(ZERO16 + h[:16] for h in hs)
        self.sk = b"".join(h[16:32] + h[12:28] + h[8:24] + h[0:16] + h[12:28] for h in hs)

    def __len__(self) -> int:
        return len(self.sizes)

    def hits(self, key: bytes) -> list[tuple[int, str]]:
        """(candidate index, mode) pairs whose first plaintext block looks like audio."""
        if not self.sizes:
            return []
        ecb = AES.new(key, AES.MODE_ECB)
        xd = _xor(ecb.decrypt(self.first), self.sd)
        xk = _xor(ecb.encrypt(self.counters), self.sk)
        out: list[tuple[int, str]] = []
        for pos in _audio_blocks(xd):
            i, j = divmod(pos, 32)
            for mode in ("ecb", "cbc-zero") if j == 0 else ("cbc-prefix",):
                if self.usable[i][mode]:
                    out.append((i, mode))
        for pos in _audio_blocks(xk):
            i, j = divmod(pos, 80)
            mode = _CTR_MODES[j // 16]
            if self.usable[i][mode]:
                out.append((i, mode))
        return sorted(out)


def decrypt(mode: str, key: bytes, c: bytes, limit: int | None = None) -> bytes | None:
    """Plaintext under ``mode`` (only the first ``limit`` bytes, roughly, if given)."""
    if limit is not None:
        limit -= limit % 16
    if mode in ("ecb", "cbc-zero"):
        body = c if limit is None else c[:limit]
        if mode == "ecb":
            return AES.new(key, AES.MODE_ECB).decrypt(body)
        return AES.new(key, AES.MODE_CBC, iv=ZERO16).decrypt(body)
    if mode == "cbc-prefix":
        body = c[16:] if limit is None else c[16 : 16 + limit]
        return AES.new(key, AES.MODE_CBC, iv=c[:16]).decrypt(body)
    if mode == "ctr-prefix16":
        body = c[16:] if limit is None else c[16 : 16 + limit]
        return AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=c[:16]).decrypt(body)
    if mode == "ctr-prefix12":
        body = c[12:] if limit is None else c[12 : 12 + limit]
        return AES.new(key, AES.MODE_CTR, nonce=c[:12], initial_value=0).decrypt(body)
    if mode == "ctr-prefix8":
        body = c[8:] if limit is None else c[8 : 8 + limit]
        return AES.new(key, AES.MODE_CTR, nonce=c[:8], initial_value=0).decrypt(body)
    if mode == "ctr-zero":
        body = c if limit is None else c[:limit]
        return AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=0).decrypt(body)
    if mode == "gcm":
        body = c[12:-16]
        if limit is not None:
            ctr = AES.new(key, AES.MODE_CTR, nonce=c[:12], initial_value=2)
            return ctr.decrypt(body[:limit])
        try:
            return AES.new(key, AES.MODE_GCM, nonce=c[:12]).decrypt_and_verify(body, c[-16:])
        except ValueError:
            return None
    raise ValueError(f"unknown mode {mode}")


def _structure_ok(plain: bytes) -> bool:
    hit = identify(plain, decode=False)
    return hit is not None and (hit.truncated or hit.length >= len(plain) * 9 // 10)


def open_with(key: Key, mode: str, data: bytes) -> Recovery | None:
    """The audio ``key`` opens in ``data`` under ``mode`` (after a batch hit), or None."""
    part = decrypt(mode, key.material, data, STRUCT_CHECK)
    if part is None or not _structure_ok(part):
        return None
    plain = decrypt(mode, key.material, data)
    if plain is None:
        return None
    hit = recovered(plain)
    if hit is None:
        return None
    label = dict(MODES)[mode]
    method = label.format(bits=len(key.material) * 8, key=key.describe())
    return Recovery(method, key, plain[: hit.length], hit)


def search(batch: Batch, keys: list[Key], read: Callable[[int], bytes]) -> dict[int, Recovery]:
    """Every candidate of ``batch`` that one of ``keys`` opens (index → recovery)."""
    solved: dict[int, Recovery] = {}
    for key in keys:
        for i, mode in batch.hits(key.material):
            if i in solved:
                continue
            found = open_with(key, mode, read(i))
            if found is not None:
                solved[i] = found
    return solved
