"""Android ``adb backup`` files (``.ab``), versions 1 to 5, compressed or not, encrypted or not.

The payload is a tar, optionally deflated, optionally AES-256-CBC encrypted; it is read
as a chain of streams (file → CBC decryptor → inflater → one-pass tar walker) so memory
stays constant however large the backup: nothing is ever read whole.

Encryption (AOSP ``UserBackupManagerService``): the password gives a user key by
PBKDF2-HMAC-SHA1; the user key decrypts a blob holding the master IV, master key and a
checksum; the checksum is PBKDF2 over the master key *as a Java char array*. Version 1
turned those chars into bytes by keeping the low byte (the raw key); version 2 and later
encode them as UTF-8, so key bytes 0x80-0xFF become ``EF BE xx`` / ``EF BF xx``. The
password itself went through the same conversion. We try the version's variant first and
then the other (as android-backup-extractor does), since files in the wild disagree.

Member names are mapped to the on-device paths their tokens stand for
(:func:`acquisition.android_layout.ab_member_path`); the member name stays as ``origin``.
"""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, cast

from Crypto.Cipher import AES

from acquisition.android_layout import ab_member_path
from acquisition.base import Entry, Problem, Source
from acquisition.errors import (
    EntryReadError,
    NotRecognised,
    PasswordRequired,
    SourceUnavailable,
    WrongPassword,
)
from acquisition.member_names import MemberNamer
from acquisition.tarball import StreamFault, walk_tar_stream

MAGIC = b"ANDROID BACKUP\n"
MAX_LINE = 4096  # the longest real header line is the 192-hex-digit key blob
MAX_ROUNDS = 1_000_000  # AOSP uses 10 000; a hostile count must not hang the run
CHUNK = 256 * 1024
VARIANTS = ("utf8", "8bit")


@dataclass(frozen=True)
class AbHeader:
    version: int
    compressed: bool
    encryption: str  # "none" or "AES-256"
    payload_offset: int
    user_salt: bytes = b""
    checksum_salt: bytes = b""
    rounds: int = 0
    user_iv: bytes = b""
    master_key_blob: bytes = b""

    @property
    def encrypted(self) -> bool:
        return self.encryption != "none"


@dataclass(frozen=True)
class MasterKey:
    key: bytes
    iv: bytes
    variant: str  # which checksum conversion matched: "utf8" (v2+) or "8bit" (v1)


def _line(f: BinaryIO, name: str, what: str) -> str:
    raw = f.readline(MAX_LINE + 1)
    if not raw.endswith(b"\n"):
        cut = "ends" if len(raw) <= MAX_LINE else "is too long"
        raise NotRecognised(f"{name}: Android backup header {cut} in the {what} line")
    try:
        return raw[:-1].decode("ascii")
    except UnicodeDecodeError:
        raise NotRecognised(f"{name}: Android backup {what} line is not ASCII")


def _hex(f: BinaryIO, name: str, what: str) -> bytes:
    try:
        return bytes.fromhex(_line(f, name, what))
    except ValueError:
        raise NotRecognised(f"{name}: Android backup {what} is not hexadecimal")


def read_header(f: BinaryIO, name: str) -> AbHeader:
    """Parse the text header; ``f`` is left at the first payload byte."""
    start = f.tell() if f.seekable() else 0
    if f.read(len(MAGIC)) != MAGIC:
        raise NotRecognised(f"{name}: not an Android backup (no 'ANDROID BACKUP' header)")
    version_text = _line(f, name, "version")
    if not version_text.isdigit() or not 1 <= int(version_text) <= 5:
        raise NotRecognised(f"{name}: unsupported Android backup version {version_text[:20]!r}")
    compressed_text = _line(f, name, "compression")
    if compressed_text not in ("0", "1"):
        raise NotRecognised(f"{name}: bad compression flag {compressed_text[:20]!r}")
    encryption = _line(f, name, "encryption")
    fields: dict[str, Any] = {}
    if encryption == "AES-256":
        fields["user_salt"] = _hex(f, name, "user password salt")
        fields["checksum_salt"] = _hex(f, name, "master key checksum salt")
        rounds_text = _line(f, name, "PBKDF2 rounds")
        if not rounds_text.isdigit() or not 1 <= int(rounds_text) <= MAX_ROUNDS:
            raise NotRecognised(f"{name}: implausible PBKDF2 round count {rounds_text[:20]!r}")
        fields["rounds"] = int(rounds_text)
        fields["user_iv"] = _hex(f, name, "user key IV")
        fields["master_key_blob"] = _hex(f, name, "master key blob")
        if len(fields["user_iv"]) != 16 or not fields["master_key_blob"]:
            raise NotRecognised(f"{name}: malformed encryption header")
        if len(fields["master_key_blob"]) % 16:
            raise NotRecognised(f"{name}: master key blob is not a whole number of AES blocks")
    elif encryption != "none":
        raise NotRecognised(f"{name}: unknown Android backup encryption {encryption[:20]!r}")
    offset = f.tell() - start if f.seekable() else 0
    return AbHeader(
        version=int(version_text),
        compressed=compressed_text == "1",
        encryption=encryption,
        payload_offset=offset,
        **fields,
    )


def java_utf8(data: bytes) -> bytes:
    """Bytes widened to Java chars with sign extension, then UTF-8 (PKCS5PasswordToUTF8Bytes)."""
    out = bytearray()
    for b in data:
        if b < 0x80:
            out.append(b)
        else:
            c = 0xFF00 | b
            out += bytes((0xE0 | (c >> 12), 0x80 | ((c >> 6) & 0x3F), 0x80 | (c & 0x3F)))
    return bytes(out)


def _password_bytes(password: str, variant: str) -> bytes:
    if variant == "utf8":
        return password.encode("utf-8", errors="surrogatepass")
    units = password.encode("utf-16-be", errors="surrogatepass")
    return units[1::2]  # PKCS5PasswordToBytes keeps the low byte of each char


def _key_checksum_bytes(master_key: bytes, variant: str) -> bytes:
    return java_utf8(master_key) if variant == "utf8" else master_key


def _unpad(data: bytes) -> bytes | None:
    if not data:
        return None
    pad = data[-1]
    if not 1 <= pad <= 16 or data[-pad:] != bytes([pad]) * pad:
        return None
    return data[:-pad]


def _parse_blob(blob: bytes) -> tuple[bytes, bytes, bytes] | None:
    parts: list[bytes] = []
    pos = 0
    for _ in range(3):
        if pos >= len(blob):
            return None
        n = blob[pos]
        part = blob[pos + 1 : pos + 1 + n]
        if len(part) != n:
            return None
        parts.append(part)
        pos += 1 + n
    iv, key, checksum = parts
    if len(iv) != 16 or len(key) != 32:
        return None
    return iv, key, checksum


def unlock(header: AbHeader, password: str, name: str) -> MasterKey:
    """Recover the master key, or raise WrongPassword."""
    first = "8bit" if header.version == 1 else "utf8"
    order = (first, *(v for v in VARIANTS if v != first))
    tried: set[bytes] = set()
    for pw_variant in order:
        pw = _password_bytes(password, pw_variant)
        if pw in tried:
            continue
        tried.add(pw)
        user_key = hashlib.pbkdf2_hmac("sha1", pw, header.user_salt, header.rounds, 32)
        blob = _unpad(
            AES.new(user_key, AES.MODE_CBC, header.user_iv).decrypt(header.master_key_blob)
        )
        parsed = _parse_blob(blob) if blob is not None else None
        if parsed is None:
            continue
        iv, key, checksum = parsed
        for ck_variant in order:
            computed = hashlib.pbkdf2_hmac(
                "sha1",
                _key_checksum_bytes(key, ck_variant),
                header.checksum_salt,
                header.rounds,
                len(checksum) or 32,
            )
            if computed == checksum:
                return MasterKey(key, iv, ck_variant)
    raise WrongPassword(f"wrong password for {name}")


# --- the payload as a chain of streams ---------------------------------------------------


class _CbcReader(io.RawIOBase):
    """AES-256-CBC decryption in chunks; the last block is held back to strip its padding."""

    def __init__(self, raw: BinaryIO, master: MasterKey, file_offset: int) -> None:
        self._raw = raw
        self._cipher = AES.new(master.key, AES.MODE_CBC, master.iv)
        self._pending = b""
        self._held = b""
        self._out = b""
        self._eof = False
        self.position = file_offset  # file offset of the next ciphertext byte
        self.fault: StreamFault | None = None

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        chunk = self._raw.read(CHUNK)
        if chunk:
            self.position += len(chunk)
            data = self._pending + chunk
            whole = len(data) - len(data) % 16
            if whole:
                plain = self._held + self._cipher.decrypt(data[:whole])
                self._held, self._out = plain[-16:], plain[:-16]
            self._pending = data[whole:]
            return
        self._eof = True
        if self._pending:
            self._out = self._held
            self.fault = StreamFault(
                f"encrypted payload truncated: ciphertext ends mid-block at file offset "
                f"{self.position}",
                self.position,
                "decrypt",
            )
        elif not self._held:
            self.fault = StreamFault(
                f"no encrypted payload (file offset {self.position})", self.position, "decrypt"
            )
        else:
            unpadded = _unpad(self._held)
            if unpadded is None:
                self._out = self._held
                self.fault = StreamFault(
                    f"encrypted payload truncated or corrupt: bad padding in the last block "
                    f"(file offset {self.position - 16})",
                    self.position - 16,
                    "decrypt",
                )
            else:
                self._out = unpadded
        self._held = b""

    def readinto(self, buffer: Any) -> int:
        while not self._out and not self._eof:
            self._fill()
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n


class _InflateReader(io.RawIOBase):
    """zlib inflation with bounded output per call (a tiny input may inflate 1000-fold)."""

    def __init__(self, src: BinaryIO, file_offset: int) -> None:
        self._src = src
        self._z = zlib.decompressobj()
        self._tail = b""
        self._eof = False
        self.position = file_offset  # file offset of the next compressed byte fetched
        self._chunk_at = file_offset
        self.fault: StreamFault | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._eof:
            if not self._tail:
                chunk = self._src.read(CHUNK)
                if not chunk:
                    self._eof = True
                    if not self._z.eof:
                        self.fault = StreamFault(
                            f"compressed payload truncated: the zlib stream ends early "
                            f"(at file offset {self.position})",
                            self.position,
                        )
                    break
                self._chunk_at = self.position
                self.position += len(chunk)
                self._tail = chunk
            try:
                out = self._z.decompress(self._tail, min(len(buffer), CHUNK))
            except zlib.error as exc:
                self._eof = True
                self.fault = StreamFault(
                    f"corrupt zlib stream in the chunk at file offset {self._chunk_at}: {exc}",
                    self._chunk_at,
                )
                break
            self._tail = self._z.unconsumed_tail
            if self._z.eof:
                self._eof = True
                self._tail = b""
            if out:
                buffer[: len(out)] = out
                return len(out)
        return 0


@dataclass
class _Payload:
    stream: BinaryIO
    fault: Callable[[], StreamFault | None]


def _payload(raw: BinaryIO, header: AbHeader, master: MasterKey | None) -> _Payload:
    layers: list[Any] = []
    stream: BinaryIO = raw
    if master is not None:
        cbc = _CbcReader(stream, master, header.payload_offset)
        layers.append(cbc)
        stream = cast(BinaryIO, cbc)
    if header.compressed:
        inflate = _InflateReader(stream, header.payload_offset)
        layers.append(inflate)
        stream = cast(BinaryIO, inflate)

    def fault() -> StreamFault | None:
        return next((layer.fault for layer in layers if layer.fault is not None), None)

    return _Payload(cast(BinaryIO, io.BufferedReader(cast(Any, stream), CHUNK)), fault)


class _Strict(io.RawIOBase):
    """Raise EntryReadError where the payload stopped early, after its last good byte."""

    def __init__(self, payload: _Payload) -> None:
        self._payload = payload

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._payload.stream.read(len(buffer))
        if not data and (fault := self._payload.fault()) is not None:
            raise EntryReadError(fault.message, fault.offset)
        buffer[: len(data)] = data
        return len(data)


def decrypted_tar_stream(fileobj: BinaryIO, password: str | None) -> BinaryIO:
    """The payload of the ``.ab`` in ``fileobj`` as a readable tar byte stream.

    Reads the header from ``fileobj`` (positioned at its start); raises PasswordRequired,
    WrongPassword or NotRecognised like the source does. A truncated or corrupt payload
    yields every recoverable byte and then raises EntryReadError with the file offset.
    """
    name = getattr(fileobj, "name", "<stream>")
    header = read_header(fileobj, str(name))
    master = None
    if header.encrypted:
        if password is None:
            raise PasswordRequired(f"{name}: the Android backup is encrypted; a password is needed")
        master = unlock(header, password, str(name))
    return cast(BinaryIO, io.BufferedReader(_Strict(_payload(fileobj, header, master)), CHUNK))


class AndroidBackupSource(Source):
    """An ``adb backup`` file. Sequential: read in one forward pass, so an entry's ``open()``
    is valid only until the next entry is yielded.

    ``open()`` reads the header and, when encrypted, checks the password (raising
    PasswordRequired / WrongPassword) before any entry exists.
    """

    kind: ClassVar[str] = "android-backup"
    sequential: ClassVar[bool] = True

    def __init__(self, location: str | os.PathLike[str], password: str | None = None) -> None:
        super().__init__(str(location))
        self.path = Path(location)
        self._password = password
        self.header: AbHeader | None = None
        self._master: MasterKey | None = None

    @classmethod
    def probe(cls, path: Path) -> bool:
        try:
            with open(path, "rb") as f:
                return f.read(len(MAGIC)) == MAGIC
        except OSError:
            return False

    def open(self) -> None:
        try:
            f = open(self.path, "rb")
        except OSError as exc:
            raise SourceUnavailable(f"{self.path}: {exc.strerror or exc}")
        with f:
            header = read_header(cast(BinaryIO, f), str(self.path))
        if header.encrypted:
            if self._password is None:
                raise PasswordRequired(
                    f"{self.path}: the Android backup is encrypted; a password is needed"
                )
            self._master = unlock(header, self._password, str(self.path))
        self.header = header

    def describe(self) -> dict[str, Any]:
        header = self.header
        if header is None:
            return {"format": "android-backup"}
        facts: dict[str, Any] = {
            "format": "android-backup",
            "format_version": header.version,
            "compressed": header.compressed,
            "encrypted": header.encrypted,
        }
        if header.encrypted:
            facts["encryption"] = header.encryption
            facts["pbkdf2_rounds"] = header.rounds
            if self._master is not None:
                facts["key_checksum_variant"] = self._master.variant
        return facts

    def entries(self) -> Iterator[Entry | Problem]:
        if self.header is None:
            self.open()
        header = self.header
        assert header is not None
        try:
            f = open(self.path, "rb")
        except OSError as exc:
            yield Problem("", "open", f"{self.path}: {exc}")
            return
        with f:
            f.seek(header.payload_offset)
            payload = _payload(cast(BinaryIO, f), header, self._master)
            yield from walk_tar_stream(
                payload.stream,
                namer=MemberNamer(None),
                location=str(self.path),
                fault=payload.fault,
                path_map=ab_member_path,
            )
