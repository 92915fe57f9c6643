"""The backup keybag: TLV records, password to key-encryption key, class keys.

A wrong password shows itself cheaply: the RFC 3394 unwrap of a class key fails its
integrity check, before any file is touched.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from construct import Bytes, GreedyRange, Int32ub, Struct
from Crypto.Cipher import AES

from acquisition.errors import WrongPassword

TLV = Struct("tag" / Bytes(4), "length" / Int32ub, "value" / Bytes(lambda ctx: ctx.length))
TLVs = GreedyRange(TLV)

WRAP_PASSCODE = 2
# iOS uses ITER 10 000 and DPIC 10 000 000; a keybag asking for far more is hostile (2**31
# rounds of PBKDF2 is hours, and more overflows hashlib) and is refused before it runs.
MAX_ITER = 10_000_000
MAX_DPIC = 200_000_000


@dataclass
class KeyClass:
    number: int
    wrap: int = 0
    key_type: int = 0
    wrapped_key: bytes | None = None
    key: bytes | None = None


@dataclass
class Keybag:
    attrs: dict[str, bytes | int] = field(default_factory=dict)
    classes: dict[int, KeyClass] = field(default_factory=dict)

    @classmethod
    def parse(cls, blob: bytes) -> Keybag:
        bag = cls()
        current: dict[str, bytes | int] | None = None
        for rec in TLVs.parse(blob):
            tag = rec.tag.decode("ascii", "replace")
            value: bytes | int = rec.value
            if len(rec.value) == 4:
                value = int.from_bytes(rec.value, "big")
            if tag == "UUID" and "UUID" in bag.attrs:
                current = {}
                bag._add_class(current)
            if current is None:
                bag.attrs[tag] = value
            else:
                current[tag] = value
                bag._add_class(current)
        return bag

    def _add_class(self, group: dict[str, bytes | int]) -> None:
        number = group.get("CLAS")
        if not isinstance(number, int):
            return
        wrapped = group.get("WPKY")
        self.classes[number] = KeyClass(
            number,
            wrap=int(group.get("WRAP", 0) or 0),
            key_type=int(group.get("KTYP", 0) or 0),
            wrapped_key=wrapped if isinstance(wrapped, bytes) else None,
        )

    def derive_kek(self, password: str) -> bytes:
        pw = password.encode("utf-8")
        salt, iterations = self.attrs.get("SALT"), self.attrs.get("ITER")
        if not isinstance(salt, bytes) or not isinstance(iterations, int):
            raise ValueError("keybag lacks SALT/ITER")
        dpsl, dpic = self.attrs.get("DPSL"), self.attrs.get("DPIC")
        if iterations > MAX_ITER or (isinstance(dpic, int) and dpic > MAX_DPIC):
            raise ValueError(
                f"keybag asks for an absurd iteration count (ITER {iterations}, "
                f"DPIC {dpic!r}); refused"
            )
        if isinstance(dpsl, bytes) and isinstance(dpic, int):
            pw = hashlib.pbkdf2_hmac("sha256", pw, dpsl, dpic, 32)
        return hashlib.pbkdf2_hmac("sha1", pw, salt, iterations, 32)

    def unlock(self, password: str) -> None:
        """Unwrap every passcode-wrapped class key; WrongPassword when one fails."""
        kek = self.derive_kek(password)
        unlocked = 0
        for kc in self.classes.values():
            if not (kc.wrap & WRAP_PASSCODE) or not kc.wrapped_key:
                continue
            try:
                kc.key = unwrap(kek, kc.wrapped_key)
            except ValueError:
                raise WrongPassword("wrong backup password") from None
            unlocked += 1
        if unlocked == 0:
            raise WrongPassword("no class key could be unwrapped with this password")

    def unwrap_for_class(self, protection_class: int, wrapped: bytes) -> bytes:
        kc = self.classes.get(protection_class)
        if kc is None or kc.key is None:
            raise KeyError(f"no unlocked key for protection class {protection_class}")
        return unwrap(kc.key, wrapped)


def unwrap(kek: bytes, wrapped: bytes) -> bytes:
    return AES.new(kek, AES.MODE_KW).unseal(wrapped)


def wrap(kek: bytes, key: bytes) -> bytes:
    return AES.new(kek, AES.MODE_KW).seal(key)
