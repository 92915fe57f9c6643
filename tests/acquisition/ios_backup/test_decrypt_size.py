"""The manifest's Size cuts the PKCS#7 padding off a decrypted file; it must not silently
cut off the file itself. A Size smaller than what decrypts (hostile, or a manifest
that lies) keeps every byte and says so; padding-sized differences are padding."""

from __future__ import annotations

import hashlib
import io

import pytest
from Crypto.Cipher import AES
from Crypto.Util.Padding import pad

from acquisition.errors import EntryReadError
from acquisition.ios_backup.crypto import open_decrypted

KEY = hashlib.sha256(b"file key").digest()
PLAIN = bytes(range(256)) * 900 + b"tail"  # 230 404 bytes, not block aligned


def _read_all(size: int | None, padded: bool = True) -> tuple[bytes, EntryReadError | None]:
    data = pad(PLAIN, 16) if padded else PLAIN + b"\x00" * (-len(PLAIN) % 16)
    cipher = AES.new(KEY, AES.MODE_CBC, iv=b"\x00" * 16).encrypt(data)
    reader = open_decrypted(io.BytesIO(cipher), KEY, size, "f")
    out = bytearray()
    try:
        while chunk := reader.read(1 << 16):
            out += chunk
    except EntryReadError as exc:
        return bytes(out), exc
    return bytes(out), None


def test_exact_size_and_no_size():
    assert _read_all(len(PLAIN)) == (PLAIN, None)
    assert _read_all(None) == (PLAIN, None)


def test_unpadded_file_is_cut_to_size_quietly():
    assert _read_all(len(PLAIN), padded=False) == (PLAIN, None)


@pytest.mark.parametrize("size", [0, 1000, len(PLAIN) - 17])
def test_size_smaller_than_the_file_keeps_every_byte_and_says_so(size):
    out, err = _read_all(size)
    assert out == PLAIN
    assert err is not None and str(size) in str(err)
