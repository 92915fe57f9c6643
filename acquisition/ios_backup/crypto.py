"""Streaming AES-256-CBC decryption of backup files, in constant memory.

Backup files are encrypted whole with a zero IV and PKCS#7 padding; the plaintext is
then cut to the MBFile ``Size``. We decrypt chunk by chunk, hold back the last block
until EOF so the padding can be stripped, and never hold the whole file.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from Crypto.Cipher import AES

from acquisition.errors import EntryReadError

CHUNK = 1 << 20
ZERO_IV = b"\x00" * 16


class DecryptingReader(io.RawIOBase):
    def __init__(self, raw: BinaryIO, key: bytes, size: int | None, name: str) -> None:
        self._raw = raw
        self._cipher = AES.new(key, AES.MODE_CBC, iv=ZERO_IV)
        self._size = size  # the plaintext size the manifest claims, if any
        self._name = name
        self._held = b""  # decrypted, not yet released (the last block waits for EOF)
        self._out = bytearray()
        self._consumed = 0  # ciphertext bytes read
        self._released = 0
        self._eof = False
        self._error: EntryReadError | None = None
        self._beyond = bytearray()  # decrypted past Size: padding, unless it grows too long
        self._overflow = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._out and not self._eof:
            self._fill()
        if not self._out:
            if self._error is not None:
                err, self._error = self._error, None
                raise err
            return 0
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        del self._out[:n]
        return n

    def _fill(self) -> None:
        chunk = self._raw.read(CHUNK)
        if chunk:
            self._consumed += len(chunk)
            self._pending = getattr(self, "_pending", b"") + chunk
            whole = len(self._pending) - len(self._pending) % 16
            if whole:
                plain = self._cipher.decrypt(self._pending[:whole])
                self._pending = self._pending[whole:]
                data = self._held + plain
                self._held = data[-16:]
                self._release(data[:-16])
            return
        self._eof = True
        pending = getattr(self, "_pending", b"")
        if pending:
            self._error = EntryReadError(
                f"{self._name}: ciphertext is truncated ({self._consumed} bytes, not a "
                f"multiple of the AES block); {len(pending)} trailing bytes not decrypted",
                offset=self._consumed - len(pending),
            )
        self._release(self._strip_padding(self._held), final=True)

    def _strip_padding(self, block: bytes) -> bytes:
        if not block:
            return block
        pad = block[-1]
        if 1 <= pad <= 16 and block.endswith(bytes([pad]) * pad):
            return block[:-pad]
        return block

    def _release(self, data: bytes, final: bool = False) -> None:
        """Cut to the manifest's Size, but only padding: bytes beyond Size are held back
        (fewer than a block), and once more are beyond it they cannot be
        padding, so everything is released and the lying Size is reported, not obeyed."""
        if self._size is not None and not self._overflow:
            room = max(0, self._size - self._released)
            if len(data) > room:
                self._beyond += data[room:]
                data = data[:room]
                if len(self._beyond) > 15:  # more than a zero padding can be
                    self._overflow = True
                    data, self._beyond = data + bytes(self._beyond), bytearray()
        self._released += len(data)
        self._out += data
        if not final or self._size is None or self._error:
            return
        if self._overflow:
            self._error = EntryReadError(
                f"{self._name}: decrypted {self._released} bytes but the manifest says Size "
                f"{self._size}; every decrypted byte is kept",
                offset=self._size,
            )
        elif self._released < self._size:
            self._error = EntryReadError(
                f"{self._name}: decrypted {self._released} bytes, the manifest says {self._size}",
                offset=self._consumed,
            )

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def open_decrypted(raw: BinaryIO, key: bytes, size: int | None, name: str) -> BinaryIO:
    """A raw (unbuffered) reader: a buffered one would drop the prefix it had gathered
    when the truncation error is raised, and that prefix is evidence."""
    return DecryptingReader(raw, key, size, name)  # type: ignore[return-value]


def decrypt_database(raw: BinaryIO, key: bytes, out: BinaryIO) -> int:
    """Decrypt an encrypted Manifest.db into ``out``, streaming.

    Padding varies in the wild (iTunes pads, pymobiledevice3 and some fixtures do not),
    so PKCS#7 padding is stripped only when it is valid *and* what remains is a whole
    number of 512-byte units, as every SQLite page size is.
    """
    cipher = AES.new(key, AES.MODE_CBC, iv=ZERO_IV)
    pending = b""
    written = 0
    last = b""
    while chunk := raw.read(CHUNK):
        pending += chunk
        whole = len(pending) - len(pending) % 16
        if whole:
            plain = cipher.decrypt(pending[:whole])
            pending = pending[whole:]
            out.write(last)
            written += len(last)
            last = plain[-16:]
            out.write(plain[:-16])
            written += len(plain) - 16
    total = written + len(last)
    pad = last[-1] if last else 0
    if (
        total % 512
        and 1 <= pad <= 16
        and last.endswith(bytes([pad]) * pad)
        and (total - pad) % 512 == 0
    ):
        last = last[:-pad]
    out.write(last)
    return written + len(last)
