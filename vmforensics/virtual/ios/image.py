"""The content a virtual iOS device serves, read from an iOS backup folder.

A backup folder is the one image format that holds everything a phone would show over
usbmux: the device's identity (Info.plist, Manifest.plist ``Lockdown``), its media
(``MediaDomain``), its app containers (``AppDomain-<bundle>``) and the backup itself. The
virtual device never invents content: the backup it sends is the folder's files, byte for
byte, and the file systems it exposes are views onto the folder's payloads.
"""

from __future__ import annotations

import hashlib
import os
import plistlib
import re
import shutil
import sqlite3
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from . import crypto

# Files that describe a backup rather than hold a payload; sent last, Status.plist at the end
# because libimobiledevice reads it to decide the backup succeeded.
_TRAILER = ("Manifest.db", "Manifest.plist", "Status.plist")
_NOT_SENT = ("Info.plist",)  # written by the host from lockdown values, never by the device
CRASH_FOLDER = "CrashReporter"
_FILE_ID = re.compile(r"[0-9a-fA-F]{40}")

DEFAULT_VALUES: dict[str, Any] = {
    "ProductType": "iPhone12,1",
    "ProductVersion": "17.5",
    "BuildVersion": "21F79",
    "DeviceName": "Virtual iPhone",
    "SerialNumber": "VIRTUAL0001",
    "DeviceClass": "iPhone",
    "ProductName": "iPhone OS",
    "HardwareModel": "N104AP",
    "CPUArchitecture": "arm64e",
    "ActivationState": "Activated",
    "UniqueChipID": 0x1A2B3C4D5E6F,
    "WiFiAddress": "02:00:00:00:00:01",
    "TimeZone": "Etc/UTC",
}


@dataclass(frozen=True)
class BackupRecord:
    """One row of Manifest.db: where a domain file lives in the folder."""

    file_id: str
    domain: str
    relative_path: str
    flags: int  # 1 file, 2 directory, 4 symlink
    size: int
    mtime: float
    birth: float
    target: str | None = None
    key_blob: bytes | None = None  # wrapped per-file key (encrypted images)


@dataclass
class IosImage:
    root: Path
    info: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    manifest_present: bool = False
    status_bytes: bytes | None = None
    encrypted: bool = False
    records: list[BackupRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    keys: dict[int, bytes] | None = None  # class keys, when an encrypted image was unlocked
    _cache: Path | None = None

    # -- loading -------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str], password: str | None = None) -> IosImage:
        """Read the folder; ``password`` unlocks an encrypted one so its media can be shown.

        Raises ValueError (with the reason) for a folder that is not a backup, or a wrong
        password.
        """
        root = Path(path)
        if not root.is_dir():
            raise ValueError(f"{root}: not a folder (an iOS backup folder is expected)")
        if not (root / "Manifest.db").is_file() and not (root / "Manifest.plist").is_file():
            raise ValueError(f"{root}: not an iOS backup folder (no Manifest.db or Manifest.plist)")
        image = cls(root=root)
        image.info = image._plist("Info.plist")
        image.manifest = image._plist("Manifest.plist")
        image.manifest_present = (root / "Manifest.plist").is_file()
        image.encrypted = bool(image.manifest.get("IsEncrypted", False))
        if (root / "Status.plist").is_file():
            image.status_bytes = (root / "Status.plist").read_bytes()
        if not image.encrypted and (root / "Manifest.db").is_file():
            image.records = image._read_manifest_db(root / "Manifest.db")
        elif image.encrypted and password is not None:
            image._unlock(password)
        return image

    def _unlock(self, password: str) -> None:
        keybag, manifest_key = self.manifest.get("BackupKeyBag"), self.manifest.get("ManifestKey")
        if not isinstance(keybag, bytes) or not isinstance(manifest_key, bytes):
            raise ValueError(f"{self.root}: encrypted image without BackupKeyBag/ManifestKey")
        self.keys = crypto.class_keys(keybag, password)
        try:
            db_key = crypto.unwrap_file_key(self.keys, manifest_key)
        except ValueError:
            raise ValueError(f"{self.root}: ManifestKey does not unwrap: wrong password") from None
        self._cache = Path(tempfile.mkdtemp(prefix="vmf-virtual-ios-plain-"))
        plain_db = self._cache / "Manifest.db"
        crypto.decrypt_file(self.root / "Manifest.db", plain_db, db_key, None)
        self.records = self._read_manifest_db(plain_db)

    def open_payload(self, record: BackupRecord) -> BinaryIO:
        """The file's plain bytes (decrypted once into a private cache for encrypted images)."""
        source = self.payload_path(record)
        if self.keys is None or record.key_blob is None:
            return open(source, "rb")
        assert self._cache is not None
        plain = self._cache / record.file_id
        if not plain.exists():
            key = crypto.unwrap_file_key(self.keys, record.key_blob)
            crypto.decrypt_file(source, plain, key, record.size)
        return open(plain, "rb")

    def close(self) -> None:
        if self._cache is not None:
            shutil.rmtree(self._cache, ignore_errors=True)
            self._cache = None

    def _plist(self, name: str) -> dict[str, Any]:
        path = self.root / name
        if not path.is_file():
            return {}
        try:
            value = plistlib.loads(path.read_bytes())
        except Exception as exc:  # hostile image: keep serving what we can
            self.problems.append(f"{path}: unreadable plist ({exc})")
            return {}
        return value if isinstance(value, dict) else {}

    def _read_manifest_db(self, path: Path) -> list[BackupRecord]:
        # SQLite writes -shm/-wal beside a WAL-mode database even when opened read-only, so
        # the image is never opened in place: a scratch copy (with its WAL) is read instead.
        with tempfile.TemporaryDirectory(prefix="vmf-virtual-ios-") as tmp:
            copy = Path(tmp) / "Manifest.db"
            shutil.copyfile(path, copy)
            wal = path.with_name(path.name + "-wal")
            if wal.is_file() and not wal.is_symlink():
                shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
            try:
                con = sqlite3.connect(copy)
                try:
                    rows = con.execute(
                        "SELECT fileID, domain, relativePath, flags, file FROM Files "
                        "ORDER BY domain, relativePath"
                    ).fetchall()
                finally:
                    con.close()
            except sqlite3.Error as exc:
                self.problems.append(f"{path}: {exc}")
                rows = []
        records: list[BackupRecord] = []
        for file_id, domain, rel, flags, blob in rows:
            if not (isinstance(file_id, str) and _FILE_ID.fullmatch(file_id)):
                self.problems.append(f"{path}: fileID {file_id!r} is not 40 hex digits; skipped")
                continue
            mb = _decode_mbfile(blob)
            records.append(
                BackupRecord(
                    file_id=str(file_id),
                    domain=str(domain or ""),
                    relative_path=str(rel or ""),
                    flags=int(flags or 0),
                    size=_int(mb.get("Size")),
                    mtime=float(_int(mb.get("LastModified"))),
                    birth=float(_int(mb.get("Birth"))),
                    target=mb.get("Target") if isinstance(mb.get("Target"), str) else None,
                    key_blob=mb.get("EncryptionKey")
                    if isinstance(mb.get("EncryptionKey"), bytes)
                    else None,
                )
            )
        return records

    # -- identity ------------------------------------------------------------------
    @property
    def udid(self) -> str:
        lockdown = self.manifest.get("Lockdown") or {}
        for value in (
            lockdown.get("UniqueDeviceID"),
            self.info.get("Target Identifier"),
            self.info.get("Unique Identifier"),
        ):
            if isinstance(value, str) and value:
                return value.lower() if len(value) == 40 else value
        return hashlib.sha1(str(self.root.resolve()).encode()).hexdigest()

    def lockdown_values(self) -> dict[str, Any]:
        """The root-domain GetValue answer, from the backup's own description of the phone."""
        values = dict(DEFAULT_VALUES)
        info_keys = {
            "Product Type": "ProductType",
            "Product Version": "ProductVersion",
            "Build Version": "BuildVersion",
            "Device Name": "DeviceName",
            "Serial Number": "SerialNumber",
            "IMEI": "InternationalMobileEquipmentIdentity",
            "MEID": "MobileEquipmentIdentifier",
            "ICCID": "IntegratedCircuitCardIdentity",
            "Phone Number": "PhoneNumber",
        }
        for info_key, key in info_keys.items():
            if isinstance(self.info.get(info_key), str) and self.info[info_key]:
                values[key] = self.info[info_key]
        lockdown = self.manifest.get("Lockdown")
        if isinstance(lockdown, dict):
            for key in (
                "ProductType",
                "ProductVersion",
                "BuildVersion",
                "DeviceName",
                "SerialNumber",
            ):
                if isinstance(lockdown.get(key), str) and lockdown[key]:
                    values[key] = lockdown[key]
        values["UniqueDeviceID"] = self.udid
        return values

    def applications(self) -> list[str]:
        bundles = {
            r.domain[len("AppDomain-") :] for r in self.records if r.domain.startswith("AppDomain-")
        }
        apps = self.manifest.get("Applications")
        if isinstance(apps, dict):
            bundles.update(k for k in apps if isinstance(k, str))
        installed = self.info.get("Installed Applications")
        if isinstance(installed, list):
            bundles.update(k for k in installed if isinstance(k, str))
        return sorted(bundles)

    # -- payloads ------------------------------------------------------------------
    def payload_path(self, record: BackupRecord) -> Path:
        return self.root / record.file_id[:2] / record.file_id

    def backup_files(self) -> list[tuple[str, Path | bytes, str]]:
        """What the device uploads: (name inside the backup, source, device-side name).

        Payload folders first (sorted), then Manifest.db, Manifest.plist and Status.plist.
        Only regular files are sent; symlinks and special files in the image are ignored.
        """
        names = {r.file_id: f"{r.domain}-{r.relative_path}" for r in self.records}
        payloads: list[tuple[str, Path | bytes, str]] = []
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            rel_dir = Path(dirpath).relative_to(self.root)
            if rel_dir == Path("."):
                dirnames[:] = [d for d in dirnames if d != CRASH_FOLDER]
                continue
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if not stat.S_ISREG(path.lstat().st_mode):
                    continue
                rel = (rel_dir / name).as_posix()
                payloads.append((rel, path, names.get(name, name)))
        payloads.sort(key=lambda item: item[0])
        trailer: list[tuple[str, Path | bytes, str]] = []
        for name in _TRAILER:
            path = self.root / name
            if path.is_file() and not path.is_symlink():
                trailer.append((name, path, name))
        if not self.manifest_present:
            trailer.append(("Manifest.plist", self._synthetic_manifest(), "Manifest.plist"))
        if self.status_bytes is None:
            trailer.append(("Status.plist", _synthetic_status(), "Status.plist"))
        top = [
            (name, path, name)
            for name in sorted(os.listdir(self.root))
            if name not in _TRAILER + _NOT_SENT
            and (path := self.root / name).is_file()
            and not path.is_symlink()
        ]
        return payloads + top + trailer

    def _synthetic_manifest(self) -> bytes:
        values = self.lockdown_values()
        lockdown = {
            k: values[k]
            for k in ("ProductType", "ProductVersion", "BuildVersion", "DeviceName", "SerialNumber")
        }
        lockdown["UniqueDeviceID"] = self.udid
        return plistlib.dumps(
            {"IsEncrypted": False, "Version": "10.0", "Lockdown": lockdown},
            fmt=plistlib.FMT_BINARY,
        )


def _synthetic_status() -> bytes:
    return plistlib.dumps(
        {
            "BackupState": "new",
            "IsFullBackup": True,
            "SnapshotState": "finished",
            "Version": "3.3",
            "UUID": "00000000-0000-0000-0000-000000000000",
        },
        fmt=plistlib.FMT_BINARY,
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _decode_mbfile(blob: Any) -> dict[str, Any]:
    """Flatten an NSKeyedArchiver MBFile into plain values (UIDs resolved one level deep)."""
    if not isinstance(blob, bytes):
        return {}
    try:
        archive = plistlib.loads(blob)
        objects = archive["$objects"]
        top = archive["$top"]["root"]
        root = objects[top.data if isinstance(top, plistlib.UID) else int(top)]
    except Exception:
        return {}
    if not isinstance(root, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in root.items():
        if isinstance(value, plistlib.UID):
            try:
                value = objects[value.data]
            except IndexError:
                continue
            if isinstance(value, dict) and "NS.data" in value:
                value = value["NS.data"]
        out[key] = value
    return out
