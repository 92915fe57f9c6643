"""AES-encrypted audio opened with keys found in the same evidence.

Only random-looking stored bytes are candidates (entropy of the first 4 KiB above
:data:`parsers.protection.common.HIGH_ENTROPY` bits per byte, size
:data:`MIN_SIZE`..:data:`parsers.protection.common.MAX_BYTES`). For each key the
first cipher block(s) of every mode are computed with two raw AES calls (one ECB
decryption of two blocks, one ECB encryption of the five counter blocks), which is
enough to see whether the plaintext would start like audio:

- ECB; CBC with a zero IV (same first block as ECB); CBC with the IV as a 16-byte prefix;
- CTR with the 16-byte initial counter block as prefix, with a 12-byte nonce prefix
  (32-bit counter from 0), with an 8-byte nonce prefix (64-bit counter from 0), with a
  zero counter block;
- GCM with a 12-byte nonce prefix and a 16-byte tag suffix (the first keystream block
  is counter 2), then ``decrypt_and_verify``, so a wrong key fails on the tag.

Only a head that passes goes further: 64 KiB are decrypted for a structure check, then
the whole object, and :func:`parsers.protection.common.recovered` must decode it. A
wrong key therefore never yields ``decodes: true``. Work is bounded by
:data:`MAX_TRIALS` key × candidate pairs per source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from Crypto.Cipher import AES

from parsers.audio.carve import Hit, identify
from parsers.protection.common import audio_head, recovered
from parsers.protection.keyhunt import Key

MIN_SIZE = 1024
MAX_TRIALS = 400_000
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


class Candidate:
    """Stored bytes that may be ciphertext, with what every key test needs precomputed."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        c = data
        self.counters = (
            c[:16] + c[:12] + bytes(4) + c[:8] + bytes(8) + ZERO16 + c[:12] + (2).to_bytes(4, "big")
        )
        self.first = c[:32]
        n = len(c)
        self.usable = {
            "ecb": n % 16 == 0,
            "cbc-zero": n % 16 == 0,
            "cbc-prefix": n > 32 and n % 16 == 0,
            "ctr-prefix16": n > 32,
            "ctr-prefix12": n > 28,
            "ctr-prefix8": n > 24,
            "ctr-zero": True,
            "gcm": n > 44,
        }

    def heads(self, key: bytes) -> dict[str, bytes]:
        """The first plaintext block under every mode, for this key."""
        ecb = AES.new(key, AES.MODE_ECB)
        c = self.data
        d = ecb.decrypt(self.first)
        ks = ecb.encrypt(self.counters)
        return {
            "ecb": d[:16],
            "cbc-zero": d[:16],
            "cbc-prefix": _xor(d[16:32], c[:16]),
            "ctr-prefix16": _xor(ks[0:16], c[16:32]),
            "ctr-prefix12": _xor(ks[16:32], c[12:28]),
            "ctr-prefix8": _xor(ks[32:48], c[8:24]),
            "ctr-zero": _xor(ks[48:64], c[0:16]),
            "gcm": _xor(ks[64:80], c[12:28]),
        }


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


def try_key(cand: Candidate, key: Key) -> Recovery | None:
    """The audio ``key`` opens in ``cand`` under some mode, or None."""
    heads = cand.heads(key.material)
    for mode, label in MODES:
        if not cand.usable[mode] or not audio_head(heads[mode]):
            continue
        part = decrypt(mode, key.material, cand.data, STRUCT_CHECK)
        if part is None or not _structure_ok(part):
            continue
        plain = decrypt(mode, key.material, cand.data)
        if plain is None:
            continue
        hit = recovered(plain)
        if hit is None:
            continue
        method = label.format(bits=len(key.material) * 8, key=key.describe())
        return Recovery(method, key, plain[: hit.length], hit)
    return None
