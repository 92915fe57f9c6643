"""Unwrapping the ``.ab`` a phone sent back into its tar, in bounded memory.

Kept small on purpose: the received ``.ab`` itself is the evidence and is always kept; this
only turns it into the tar the backup strategy lists, so app files land under the same
logical paths as a root acquisition would give them.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from Crypto.Cipher import AES
from Crypto.Util.Padding import unpad

from acquisition.errors import PasswordRequired, WrongPassword

MAGIC = b"ANDROID BACKUP"
_CHUNK = 1 << 20
_MAX_ROUNDS = 10_000_000


class AbFormatError(ValueError):
    """The stream is not a readable Android backup (message names the offset)."""


@dataclass(frozen=True)
class AbHeader:
    version: int
    compressed: bool
    encrypted: bool


def _line(src: BinaryIO, offset: int) -> tuple[bytes, int]:
    raw = src.readline(1024)
    if not raw.endswith(b"\n"):
        raise AbFormatError(f"truncated or malformed header line at offset {offset}")
    return raw[:-1], offset + len(raw)


def _java_key_bytes(key: bytes, utf8: bool) -> bytes:
    if not utf8:
        return key
    return "".join(chr(b if b < 0x80 else 0xFF00 | b) for b in key).encode("utf-8")


def decode(src: BinaryIO, dest: BinaryIO, password: str | None) -> AbHeader:
    """Write the tar inside ``src`` to ``dest``; raise on a bad header or password.

    A truncated body (a transfer cut short) is not an error here: everything that could
    be decoded is written and the caller lists the partial tar.
    """
    offset = 0
    magic, offset = _line(src, offset)
    if magic != MAGIC:
        raise AbFormatError("not an Android backup (no 'ANDROID BACKUP' line at offset 0)")
    fields = []
    for _ in range(3):
        value, offset = _line(src, offset)
        fields.append(value)
    try:
        version = int(fields[0])
    except ValueError:
        raise AbFormatError(f"bad version line {fields[0]!r}") from None
    if not 1 <= version <= 5:
        raise AbFormatError(f"unknown backup format version {version}")
    compressed = fields[1] == b"1"
    encryption = fields[2].decode("ascii", "replace")
    cipher = None
    if encryption == "AES-256":
        lines = []
        for _ in range(5):
            value, offset = _line(src, offset)
            lines.append(value)
        if not password:
            raise PasswordRequired("the backup was encrypted on the phone; a password is needed")
        try:
            user_salt, ck_salt = bytes.fromhex(lines[0].decode()), bytes.fromhex(lines[1].decode())
            rounds = int(lines[2])
            user_iv, blob = bytes.fromhex(lines[3].decode()), bytes.fromhex(lines[4].decode())
        except ValueError:
            raise AbFormatError("malformed encryption header") from None
        if not 0 < rounds <= _MAX_ROUNDS:
            raise AbFormatError(f"implausible PBKDF2 round count {rounds}")
        user_key = hashlib.pbkdf2_hmac("sha1", password.encode("utf-8"), user_salt, rounds, 32)
        try:
            plain = unpad(AES.new(user_key, AES.MODE_CBC, user_iv).decrypt(blob), 16)
        except ValueError:
            raise WrongPassword("wrong backup password") from None
        if len(plain) < 3 or plain[0] != 16:
            raise WrongPassword("wrong backup password")
        iv = plain[1:17]
        klen = plain[17]
        key = plain[18 : 18 + klen]
        clen = plain[18 + klen]
        check = plain[19 + klen : 19 + klen + clen]
        ok = any(
            hashlib.pbkdf2_hmac("sha1", _java_key_bytes(key, utf8), ck_salt, rounds, 32) == check
            for utf8 in ((version >= 2), (version < 2))
        )
        if not ok or len(key) != 32:
            raise WrongPassword("wrong backup password")
        cipher = AES.new(key, AES.MODE_CBC, iv)
    elif encryption != "none":
        raise AbFormatError(f"unknown encryption {encryption!r}")

    inflater = zlib.decompressobj() if compressed else None
    pending = b""
    while True:
        chunk = src.read(_CHUNK)
        last = not chunk
        if cipher is not None:
            data = pending + chunk
            keep = 16 if not last else 0
            cut = max(0, (len(data) - keep) // 16 * 16)
            plain = cipher.decrypt(data[:cut]) if cut else b""
            pending = data[cut:]
            if last and plain:
                try:
                    plain = unpad(plain, 16)
                except ValueError:
                    pass  # truncated: keep what decrypted
            chunk = plain
        if inflater is not None:
            try:
                out = inflater.decompress(chunk) if chunk else inflater.flush()
            except zlib.error:
                break  # truncated or corrupt: the tar reader reports the cut
            dest.write(out)
        elif chunk:
            dest.write(chunk)
        if last:
            break
    return AbHeader(version, compressed, cipher is not None)
