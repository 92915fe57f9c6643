"""Just enough backup decryption for the virtual phone to show an encrypted image's media.

A real iPhone holds its files in the clear and encrypts only what it puts in a backup. A
virtual phone serving an encrypted backup folder therefore needs the password to show its
media over AFC; the backup itself is still sent exactly as the folder holds it.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path
from typing import BinaryIO

from Crypto.Cipher import AES

CHUNK = 1024 * 1024


class WrongImagePassword(ValueError):
    pass


def parse_keybag(blob: bytes) -> tuple[dict[str, bytes | int], dict[int, dict[str, bytes | int]]]:
    attrs: dict[str, bytes | int] = {}
    classes: dict[int, dict[str, bytes | int]] = {}
    current: dict[str, bytes | int] | None = None
    pos = 0
    while pos + 8 <= len(blob):
        tag = blob[pos : pos + 4].decode("ascii", "replace")
        (length,) = struct.unpack(">I", blob[pos + 4 : pos + 8])
        raw = blob[pos + 8 : pos + 8 + length]
        pos += 8 + length
        value: bytes | int = int.from_bytes(raw, "big") if length == 4 else raw
        if tag == "UUID" and "UUID" in attrs:
            current = {}
        if current is None:
            attrs[tag] = value
        else:
            current[tag] = value
            if isinstance(current.get("CLAS"), int):
                classes[int(current["CLAS"])] = current
    return attrs, classes


def class_keys(keybag: bytes, password: str) -> dict[int, bytes]:
    attrs, classes = parse_keybag(keybag)
    salt, iterations = attrs.get("SALT"), attrs.get("ITER")
    if not isinstance(salt, bytes) or not isinstance(iterations, int):
        raise ValueError("keybag without SALT/ITER")
    secret = password.encode("utf-8")
    dpsl, dpic = attrs.get("DPSL"), attrs.get("DPIC")
    if isinstance(dpsl, bytes) and isinstance(dpic, int):
        secret = hashlib.pbkdf2_hmac("sha256", secret, dpsl, dpic, 32)
    kek = hashlib.pbkdf2_hmac("sha1", secret, salt, iterations, 32)
    keys: dict[int, bytes] = {}
    for number, group in classes.items():
        wrapped = group.get("WPKY")
        if isinstance(wrapped, bytes) and int(group.get("WRAP", 0)) & 2:
            try:
                keys[number] = AES.new(kek, AES.MODE_KW).unseal(wrapped)
            except ValueError:
                raise WrongImagePassword("wrong password for the encrypted image") from None
    if not keys:
        raise WrongImagePassword("no class key unwraps with this password")
    return keys


def unwrap_file_key(keys: dict[int, bytes], blob: bytes) -> bytes:
    """``blob`` = u32 little-endian protection class + 40-byte wrapped key."""
    if len(blob) < 44:
        raise ValueError("short wrapped key")
    (cls,) = struct.unpack("<I", blob[:4])
    if cls not in keys:
        raise ValueError(f"no key for protection class {cls}")
    return AES.new(keys[cls], AES.MODE_KW).unseal(blob[4:44])


def decrypt_to(src: BinaryIO, dst: BinaryIO, key: bytes, size: int | None) -> None:
    """AES-256-CBC with a zero IV, streamed; PKCS#7 stripped, then cut to ``size`` if known."""
    cipher = AES.new(key, AES.MODE_CBC, iv=bytes(16))
    pending = b""  # ciphertext short of a whole block
    last = b""  # the last plaintext block is held back: it may carry the padding
    written = 0
    while chunk := src.read(CHUNK):
        data = pending + chunk
        cut = len(data) - len(data) % 16
        pending = data[cut:]
        if not cut:
            continue
        plain = last + cipher.decrypt(data[:cut])
        dst.write(plain[:-16])
        written += len(plain) - 16
        last = plain[-16:]
    pad = last[-1] if last else 0
    if 1 <= pad <= 16 and last.endswith(bytes([pad]) * pad):
        last = last[:-pad]
    dst.write(last)
    written += len(last)
    if size is not None and written > size:
        dst.truncate(size)


def decrypt_file(src: Path, dst: Path, key: bytes, size: int | None) -> None:
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        decrypt_to(fin, fout, key, size)
