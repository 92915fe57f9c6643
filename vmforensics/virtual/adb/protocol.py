"""ADB wire constants, packet framing and adbd's key check.

Values come from AOSP adb (``adb.h``, ``file_sync_protocol.h``); the signature check mirrors
adbd: the 20-byte token is signed as if it were already a SHA-1 digest (PKCS#1 v1.5), so a
client that hashes the token again is rejected exactly as a real phone would reject it.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils


def _cmd(name: bytes) -> int:
    return struct.unpack("<I", name)[0]


A_CNXN = _cmd(b"CNXN")
A_AUTH = _cmd(b"AUTH")
A_OPEN = _cmd(b"OPEN")
A_OKAY = _cmd(b"OKAY")
A_WRTE = _cmd(b"WRTE")
A_CLSE = _cmd(b"CLSE")
A_STLS = _cmd(b"STLS")
KNOWN_COMMANDS = {A_CNXN, A_AUTH, A_OPEN, A_OKAY, A_WRTE, A_CLSE, A_STLS}

A_VERSION_MIN = 0x01000000
A_VERSION_SKIP_CHECKSUM = 0x01000001
A_VERSION = 0x01000001
MAX_PAYLOAD_V1 = 4096
MAX_PAYLOAD = 1024 * 1024
TOKEN_SIZE = 20

AUTH_TOKEN = 1
AUTH_SIGNATURE = 2
AUTH_RSAPUBLICKEY = 3

HEADER = struct.Struct("<6I")

# sync sub-protocol ids
ID_STAT = _cmd(b"STAT")
ID_LIST = _cmd(b"LIST")
ID_DENT = _cmd(b"DENT")
ID_SEND = _cmd(b"SEND")
ID_RECV = _cmd(b"RECV")
ID_DATA = _cmd(b"DATA")
ID_DONE = _cmd(b"DONE")
ID_OKAY = _cmd(b"OKAY")
ID_FAIL = _cmd(b"FAIL")
ID_QUIT = _cmd(b"QUIT")
SYNC_DATA_MAX = 64 * 1024
SYNC_PATH_MAX = 1024


class ProtocolError(Exception):
    """The peer sent something no adbd would accept; the connection is dropped."""


@dataclass(frozen=True)
class Packet:
    command: int
    arg0: int
    arg1: int
    data: bytes = b""

    @property
    def name(self) -> str:
        return struct.pack("<I", self.command).decode("ascii", "replace")


def checksum(data: bytes) -> int:
    """adb's "crc32" is the byte sum, mod 2**32."""
    return sum(data) & 0xFFFFFFFF


def pack(packet: Packet, *, with_checksum: bool) -> bytes:
    check = checksum(packet.data) if with_checksum else 0
    header = HEADER.pack(
        packet.command,
        packet.arg0,
        packet.arg1,
        len(packet.data),
        check,
        packet.command ^ 0xFFFFFFFF,
    )
    return header + packet.data


def unpack_header(raw: bytes) -> tuple[int, int, int, int, int]:
    command, arg0, arg1, length, check, magic = HEADER.unpack(raw)
    if command not in KNOWN_COMMANDS:
        raise ProtocolError(f"unknown command 0x{command:08x}")
    if magic != command ^ 0xFFFFFFFF:
        raise ProtocolError(f"bad magic for command 0x{command:08x}")
    if length > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {length} bytes exceeds {MAX_PAYLOAD}")
    return command, arg0, arg1, length, check


@dataclass(frozen=True)
class AndroidPublicKey:
    """Android's 524-byte ``RSAPublicKey`` struct, as sent after AUTH RSAPUBLICKEY."""

    modulus: int
    exponent: int
    comment: str

    @classmethod
    def parse(cls, payload: bytes) -> AndroidPublicKey:
        text = payload.rstrip(b"\0").decode("ascii", "replace").strip()
        b64, _, comment = text.partition(" ")
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError(f"public key is not base64: {exc}") from exc
        if len(raw) < 8:
            raise ProtocolError("public key too short")
        words, _n0inv = struct.unpack_from("<II", raw)
        size = words * 4
        if words == 0 or words > 1024 or len(raw) != 8 + 2 * size + 4:
            raise ProtocolError("public key has the wrong length")
        modulus = int.from_bytes(raw[8 : 8 + size], "little")
        (exponent,) = struct.unpack_from("<I", raw, 8 + 2 * size)
        return cls(modulus, exponent, comment)

    def verifies(self, token: bytes, signature: bytes) -> bool:
        try:
            key = rsa.RSAPublicNumbers(self.exponent, self.modulus).public_key()
            key.verify(signature, token, padding.PKCS1v15(), utils.Prehashed(hashes.SHA1()))
        except (InvalidSignature, ValueError):
            return False
        return True
