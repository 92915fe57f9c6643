"""Writes ``adb backup`` files for tests: versions 1-5, compressed or not, encrypted or not.

An independent writer (not the reader's code run backwards): it follows the AOSP layout
in ../shared/reference/acquisition.md §3.2 and streams, so a test can write a backup that
expands to hundreds of MiB without holding it in memory.
"""

from __future__ import annotations

import hashlib
import io
import random
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from Crypto.Cipher import AES


def tar_bytes(members: Iterable[tuple[str, bytes]], *, end_marker: bool = True) -> bytes:
    """A ustar archive of ``(name, data)`` members; names ending in '/' are directories."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name.rstrip("/"))
            info.mtime = 1_700_000_000
            if name.endswith("/"):
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o600
                tar.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    if not end_marker:
        data = data.rstrip(b"\x00")
        data += b"\x00" * (-len(data) % 512)
    return data


def repetitive_chunks(size: int, block: bytes = b"voicemail" * 113) -> Iterator[bytes]:
    """``size`` bytes of a repeating pattern, in 1 MiB pieces."""
    piece = (block * (1 + (1 << 20) // len(block)))[: 1 << 20]
    left = size
    while left:
        n = min(left, len(piece))
        yield piece[:n]
        left -= n


def big_member_tar(name: str, size: int) -> Iterator[bytes]:
    """A tar with one member of ``size`` repetitive bytes, produced in pieces."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 1_700_000_000
    yield info.tobuf(format=tarfile.USTAR_FORMAT)
    yield from repetitive_chunks(size)
    yield b"\x00" * (-size % 512) + b"\x00" * 1024


def java_utf8(data: bytes) -> bytes:
    out = bytearray()
    for b in data:
        if b < 0x80:
            out.append(b)
        else:  # (char)(byte)b is U+FF80..U+FFFF: three UTF-8 bytes
            out += chr(0xFF00 | b).encode("utf-8")
    return bytes(out)


def write_ab(
    out: Path,
    payload: bytes | Iterable[bytes],
    *,
    version: int = 5,
    compressed: bool = True,
    password: str | None = None,
    rounds: int = 20,
    checksum: str | None = None,
    seed: int = 1,
) -> Path:
    """Write an ``.ab`` holding ``payload`` (a tar) to ``out``.

    ``checksum`` picks the master-key checksum conversion ("utf8" or "8bit"); by default
    the one AOSP uses for ``version`` (8bit for v1, utf8 for v2+). The password bytes use
    the same conversion, as Java's PBKDF2 key factories did.
    """
    chunks = [payload] if isinstance(payload, bytes) else payload
    rng = random.Random(seed)
    variant = checksum or ("8bit" if version == 1 else "utf8")
    with open(out, "wb") as f:
        f.write(b"ANDROID BACKUP\n%d\n%d\n" % (version, int(compressed)))
        cipher = None
        if password is None:
            f.write(b"none\n")
        else:
            user_salt, ck_salt = rng.randbytes(64), rng.randbytes(64)
            user_iv, mk_iv = rng.randbytes(16), rng.randbytes(16)
            master_key = bytes([0x80 | rng.randrange(128)]) + rng.randbytes(31)
            if variant == "utf8":
                pw = password.encode("utf-8")
                ck_input = java_utf8(master_key)
            else:
                pw = password.encode("utf-16-be")[1::2]
                ck_input = master_key
            user_key = hashlib.pbkdf2_hmac("sha1", pw, user_salt, rounds, 32)
            check = hashlib.pbkdf2_hmac("sha1", ck_input, ck_salt, rounds, 32)
            blob = bytes([16]) + mk_iv + bytes([32]) + master_key + bytes([32]) + check
            pad = 16 - len(blob) % 16
            blob += bytes([pad]) * pad
            enc_blob = AES.new(user_key, AES.MODE_CBC, user_iv).encrypt(blob)
            f.write(b"AES-256\n")
            for value in (
                user_salt.hex(),
                ck_salt.hex(),
                str(rounds),
                user_iv.hex(),
                enc_blob.hex(),
            ):
                f.write(value.upper().encode() + b"\n")
            cipher = AES.new(master_key, AES.MODE_CBC, mk_iv)
        deflater = zlib.compressobj(9) if compressed else None
        pending = b""

        def emit(data: bytes, final: bool = False) -> None:
            nonlocal pending
            if cipher is None:
                f.write(data)
                return
            pending += data
            if final:
                pad = 16 - len(pending) % 16
                f.write(cipher.encrypt(pending + bytes([pad]) * pad))
                pending = b""
                return
            whole = len(pending) - len(pending) % 16
            if whole:
                f.write(cipher.encrypt(pending[:whole]))
                pending = pending[whole:]

        for chunk in chunks:
            emit(deflater.compress(chunk) if deflater else chunk)
        emit(deflater.flush() if deflater else b"", final=True)
    return out
