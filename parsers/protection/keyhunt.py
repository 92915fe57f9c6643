"""Key candidates found in the same source's stored values.

An app that "encrypts" voicemail with a key kept in its own storage protects nothing
from someone holding the storage. Every short stored value is read as possible AES key
material, in this order of forms: raw bytes of 16/24/32 bytes (a BLOB or plist data
value), hex text of 32/48/64 digits, base64 (standard or URL-safe, padded or not) of
16/24/32 bytes, the UTF-8 bytes of a 16/24/32-character string, and, for any string
of 4..128 characters (a password or passphrase), three derivations: SHA-256 of its
UTF-8 bytes (AES-256), the first 16 bytes of that (AES-128) and MD5 (AES-128). No
iterated KDF (PBKDF2, scrypt) is tried: without its salt and count from the app's code
it cannot be reproduced. Values whose name looks like a key (key, secret, pass, pin,
aes, cipher, crypt, token) are tried first; at most :data:`MAX_KEYS` keys are kept and
a cut is reported, never silent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field

from parsers.apps import package_of
from parsers.protection.values import Value

MAX_KEYS = 4096
KEY_SIZES = (16, 24, 32)
MAX_STRING = 128
MIN_STRING = 4
_KEYISH = re.compile(r"key|secret|pass|pwd|pin|aes|cipher|crypt|token|salt", re.IGNORECASE)
_HEXTEXT = re.compile(r"[0-9A-Fa-f]+")
_B64TEXT = re.compile(r"[A-Za-z0-9+/_\-]+={0,2}")


@dataclass(frozen=True)
class Key:
    """One candidate key and where it came from; the material never appears in a repr."""

    material: bytes = field(repr=False)
    path: str  # evidence path of the stored file holding it
    note: str  # where in that file: '<string name="k">', 'json $.a', 'table t rowid 1 column c'
    form: str  # raw, hex, base64, utf-8, sha256(utf-8), sha256(utf-8)[:16], md5(utf-8)
    keyish: bool = False

    @property
    def package(self) -> str | None:
        return package_of(self.path)

    def describe(self) -> str:
        """How an examiner reproduces the key: where it is and what was done to it."""
        how = "" if self.form == "raw" else f", {self.form}"
        return f"key from {self.path} {self.note}{how}"


def _b64_key(s: str) -> bytes | None:
    if not _B64TEXT.fullmatch(s) or len(s) < 20:
        return None
    t = s.rstrip("=")
    t += "=" * (-len(t) % 4)
    try:
        raw = base64.urlsafe_b64decode(t) if ("-" in t or "_" in t) else base64.b64decode(t)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) in KEY_SIZES else None


def keys_of(value: Value) -> list[Key]:
    """Every key reading of one stored value (none for long values)."""
    v = value.value
    keyish = bool(value.name and _KEYISH.search(value.name))
    out: list[Key] = []

    def add(material: bytes, form: str) -> None:
        out.append(Key(material, value.path, value.note, form, keyish))

    if isinstance(v, bytes):
        if len(v) in KEY_SIZES:
            add(v, "raw")
        if len(v) > MAX_STRING:
            return out
        try:
            v = v.decode("utf-8")
        except UnicodeDecodeError:
            return out
    s = v.strip()
    if not (MIN_STRING <= len(s) <= MAX_STRING) or not s.isprintable():
        return out
    if len(s) in (32, 48, 64) and _HEXTEXT.fullmatch(s):
        add(bytes.fromhex(s), "hex")
    b64 = _b64_key(s)
    if b64 is not None:
        add(b64, "base64")
    raw = s.encode("utf-8")
    if len(raw) in KEY_SIZES:
        add(raw, "utf-8")
    digest = hashlib.sha256(raw).digest()
    add(digest, "sha256(utf-8)")
    add(digest[:16], "sha256(utf-8)[:16]")
    add(hashlib.md5(raw).digest(), "md5(utf-8)")
    return out


_FORM_RANK = {"raw": 0, "hex": 0, "base64": 0, "utf-8": 1}


class KeyRing:
    """The candidate keys of one source, deduplicated by material, tried in rank order."""

    def __init__(self, limit: int = MAX_KEYS) -> None:
        self.limit = limit
        self._by_material: dict[bytes, Key] = {}
        self.seen_values = 0
        self._pruned = 0

    def add_value(self, value: Value) -> None:
        found = keys_of(value)
        if found:
            self.seen_values += 1
        for key in found:
            old = self._by_material.get(key.material)
            if old is None or self._rank(key) < self._rank(old):
                self._by_material[key.material] = key
        if len(self._by_material) > 8 * self.limit:  # bound memory on huge databases
            kept = sorted(self._by_material.values(), key=self._rank)[: 4 * self.limit]
            self._pruned += len(self._by_material) - len(kept)
            self._by_material = {k.material: k for k in kept}

    @staticmethod
    def _rank(key: Key) -> tuple[int, int, str, str]:
        return (0 if key.keyish else 1, _FORM_RANK.get(key.form, 2), key.path, key.note)

    def __len__(self) -> int:
        return len(self._by_material)

    def keys(self, prefer: set[str] | None = None) -> list[Key]:
        """At most ``limit`` keys, best-ranked first; keys of the ``prefer`` packages (the
        apps that hold candidate ciphertext) before all others."""
        wanted = prefer or set()
        ranked = sorted(
            self._by_material.values(),
            key=lambda k: (0 if k.package in wanted else 1, *self._rank(k)),
        )
        return ranked[: self.limit]

    @property
    def dropped(self) -> int:
        return self._pruned + max(0, len(self._by_material) - self.limit)
