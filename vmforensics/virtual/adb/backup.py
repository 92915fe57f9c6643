"""What ``bu backup`` writes: a real ``.ab`` (version 5, zlib, optionally AES-256).

The layout follows ``android.app.backup.FullBackup``: per app ``apps/<pkg>/_manifest``
first, then ``db/``, ``sp/``, ``f/``, ``r/`` and ``ef/`` members. When the device's user
typed a password on the confirmation screen, the archive is encrypted the way
UserBackupManagerService does it, including the Java-char master-key checksum quirk.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from Crypto.Cipher import AES
from Crypto.Util.Padding import pad

from vmforensics.virtual.adb.image import DeviceImage
from vmforensics.virtual.adb.streams import stream_writer

AB_VERSION = 5

# app data sub-folders and their backup tokens; absent ones go under r/
_TOKENS = {"databases": "db", "shared_prefs": "sp", "files": "f"}
_SKIPPED = {"cache", "code_cache", "no_backup", "lib"}


def java_utf8_key_bytes(key: bytes) -> bytes:
    """PKCS5PasswordToUTF8Bytes over bytes widened to Java chars with sign extension."""
    chars = "".join(chr(b if b < 0x80 else 0xFF00 | b) for b in key)
    return chars.encode("utf-8")


def parse_args(args: list[str]) -> tuple[list[str], bool, bool]:
    """Flags as ``bu``'s Backup.java reads them: (packages, all, shared)."""
    packages: list[str] = []
    all_apps = shared = False
    for arg in args:
        if arg == "-all":
            all_apps = True
        elif arg == "-shared":
            shared = True
        elif arg == "-noshared":
            shared = False
        elif arg.startswith("-"):
            continue  # -apk/-noapk/-obb/-keyvalue/-compress...: accepted, no effect here
        else:
            packages.append(arg)
    return packages, all_apps, shared


def _manifest(package: str, sdk: str) -> bytes:
    return f"1\n{package}\n1\n{sdk}\n\n0\n0\n".encode()


def _add_tree(tar: tarfile.TarFile, base: Path, prefix: str) -> None:
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if full.is_symlink() or not full.is_file():
                continue
            rel = full.relative_to(base).as_posix()
            info = tar.gettarinfo(str(full), arcname=f"{prefix}{rel}")
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with open(full, "rb") as fh:
                tar.addfile(info, fh)


def _add_app_dir(tar: tarfile.TarFile, app: Path, prefix: str, domain: str) -> None:
    """One data folder under its tokens; ``domain`` "d_" for device-protected storage."""
    for child in sorted(app.iterdir()):
        if child.name in _SKIPPED:
            continue
        if child.is_dir():
            token = _TOKENS.get(child.name)
            sub = f"{domain}{token}/" if token else f"{domain}r/{child.name}/"
            _add_tree(tar, child, prefix + sub)
        elif child.is_file() and not child.is_symlink():
            info = tar.gettarinfo(str(child), arcname=f"{prefix}{domain}r/{child.name}")
            with open(child, "rb") as fh:
                tar.addfile(info, fh)


def _write_tar(out: BinaryIO, image: DeviceImage, packages: list[str], shared: bool) -> None:
    sdk = image.facts.properties.get("ro.build.version.sdk", "34")
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for package in packages:
            app = image.app_dir(package)
            if app is None or package in image.facts.backup.excluded:
                continue
            man = _manifest(package, sdk)
            info = tarfile.TarInfo(f"apps/{package}/_manifest")
            info.size = len(man)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(man))
            _add_app_dir(tar, app, f"apps/{package}/", "")
            de = image.host_path(f"/data/user_de/0/{package}")
            if de is not None and de.is_dir():
                _add_app_dir(tar, de, f"apps/{package}/", "d_")
            ext = image.host_path(f"/sdcard/Android/data/{package}/files")
            if ext is not None and ext.is_dir():
                _add_tree(tar, ext, f"apps/{package}/ef/")
        if shared:
            base = image.shared_dir()
            if base is not None:
                _add_tree(tar, base, "shared/0/")


class _Compressor:
    """zlib, then optional AES-256-CBC, as a file object for tarfile."""

    def __init__(self, out: BinaryIO, cipher: object | None) -> None:
        self._out = out
        self._z = zlib.compressobj(9)
        self._cipher = cipher
        self._pending = b""

    def write(self, data: bytes) -> int:
        self._emit(self._z.compress(data))
        return len(data)

    def _emit(self, data: bytes, final: bool = False) -> None:
        if self._cipher is None:
            if data:
                self._out.write(data)
            return
        data = self._pending + data
        if final:
            self._out.write(self._cipher.encrypt(pad(data, 16)))  # type: ignore[attr-defined]
            self._pending = b""
            return
        cut = len(data) - len(data) % 16
        if cut:
            self._out.write(self._cipher.encrypt(data[:cut]))  # type: ignore[attr-defined]
        self._pending = data[cut:]

    def close(self) -> None:
        self._emit(self._z.flush(), final=True)


def _header(password: str | None, rounds: int) -> tuple[bytes, object | None]:
    lines = [b"ANDROID BACKUP", str(AB_VERSION).encode(), b"1"]
    if not password:
        lines.append(b"none")
        return b"\n".join(lines) + b"\n", None
    user_salt = os.urandom(64)
    ck_salt = os.urandom(64)
    user_iv = os.urandom(16)
    master_key = os.urandom(32)
    master_iv = os.urandom(16)
    user_key = hashlib.pbkdf2_hmac("sha1", password.encode("utf-8"), user_salt, rounds, 32)
    check = hashlib.pbkdf2_hmac("sha1", java_utf8_key_bytes(master_key), ck_salt, rounds, 32)
    blob = bytes([16]) + master_iv + bytes([32]) + master_key + bytes([32]) + check
    enc_blob = AES.new(user_key, AES.MODE_CBC, user_iv).encrypt(pad(blob, 16))
    lines += [
        b"AES-256",
        user_salt.hex().upper().encode(),
        ck_salt.hex().upper().encode(),
        str(rounds).encode(),
        user_iv.hex().upper().encode(),
        enc_blob.hex().upper().encode(),
    ]
    return b"\n".join(lines) + b"\n", AES.new(master_key, AES.MODE_CBC, master_iv)


def backup_stream(image: DeviceImage, args: list[str]) -> Iterator[bytes]:
    """The bytes ``bu backup <args>`` writes once the user confirms (nothing if refused)."""
    settings = image.facts.backup
    if not settings.confirm:
        return iter(())
    packages, all_apps, shared = parse_args(args)
    if all_apps:
        packages = image.packages()

    def produce(out: BinaryIO) -> None:
        header, cipher = _header(settings.password, settings.rounds)
        out.write(header)
        comp = _Compressor(out, cipher)
        _write_tar(comp, image, packages, shared)  # type: ignore[arg-type]
        comp.close()

    return stream_writer(produce)
