"""Build a small iOS backup folder, plain or encrypted, for demos, training and tests.

The layout and the encryption follow iTunes/Finder backups of iOS 10.2 and later:
``xx/<SHA1(domain-relativePath)>`` payloads, a Manifest.db whose ``file`` column holds an
NSKeyedArchiver MBFile, and for encrypted backups a backup keybag whose class keys are
wrapped (RFC 3394) with a key derived from the password through PBKDF2-SHA256 then
PBKDF2-SHA1. The round counts are parameters: real phones use 10,000,000 and 10,000;
samples use small ones so they build in milliseconds.
"""

from __future__ import annotations

import hashlib
import os
import plistlib
import sqlite3
import struct
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from Crypto.Cipher import AES
from Crypto.Util.Padding import pad

DEFAULT_UDID = "00008030-001a2b3c4d5e6f70"


@dataclass(frozen=True)
class SampleFile:
    domain: str
    relative_path: str
    data: bytes | None  # None: a directory
    mtime: int = 1_700_000_000
    protection_class: int = 3


def default_files() -> list[SampleFile]:
    voicemail = b"#!AMR\n" + bytes([0x3C]) + bytes(31) * 1  # one AMR-NB 12.2k frame of silence
    return [
        SampleFile("MediaDomain", "Media", None),
        SampleFile("MediaDomain", "Media/DCIM", None),
        SampleFile("MediaDomain", "Media/DCIM/100APPLE", None),
        SampleFile(
            "MediaDomain", "Media/DCIM/100APPLE/IMG_0001.JPG", b"\xff\xd8\xff\xe0" + b"J" * 300
        ),
        SampleFile("MediaDomain", "Media/Recordings", None),
        SampleFile(
            "MediaDomain",
            "Media/Recordings/20240101 120000.m4a",
            b"\x00\x00\x00\x18ftypM4A " + b"r" * 500,
        ),
        SampleFile("HomeDomain", "Library/Voicemail", None),
        SampleFile("HomeDomain", "Library/Voicemail/1.amr", voicemail),
        SampleFile("AppDomain-com.example.voicemail", "Documents", None),
        SampleFile("AppDomain-com.example.voicemail", "Documents/greeting.amr", voicemail),
        SampleFile("AppDomain-com.example.voicemail", "Library", None),
        SampleFile("AppDomain-com.example.voicemail", "Library/Caches", None),
        SampleFile("AppDomain-com.example.voicemail", "Library/Caches/vm-0001.amr", voicemail * 3),
        SampleFile(
            "AppDomain-com.example.voicemail",
            "Library/Preferences/com.example.voicemail.plist",
            plistlib.dumps({"server": "vvm.example.net", "user": "alice"}),
        ),
    ]


def file_id(domain: str, relative_path: str) -> str:
    return hashlib.sha1(f"{domain}-{relative_path}".encode()).hexdigest()


def build_backup(
    dest: str | os.PathLike[str],
    files: Iterable[SampleFile] | None = None,
    *,
    password: str | None = None,
    udid: str = DEFAULT_UDID,
    product_type: str = "iPhone12,1",
    product_version: str = "17.5",
    build_version: str = "21F79",
    device_name: str = "Sample iPhone",
    serial: str = "F2LSAMPLE001",
    imei: str = "356938035643809",
    dpic: int = 1000,
    iterations: int = 10,
    seed: int = 1,
) -> Path:
    """Write a backup folder at ``dest`` (created) and return it. Deterministic for a seed."""
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    files = list(default_files() if files is None else files)
    rng = _Rng(seed)
    keybag, class_keys = (
        (None, {}) if password is None else _keybag(password, rng, dpic, iterations)
    )
    apps = sorted(
        {f.domain[len("AppDomain-") :] for f in files if f.domain.startswith("AppDomain-")}
    )

    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "Manifest.db"
        con = sqlite3.connect(db_path)
        con.executescript(
            "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, "
            "flags INTEGER, file BLOB);"
            "CREATE INDEX FilesDomainIdx ON Files(domain);"
            "CREATE INDEX FilesRelativePathIdx ON Files(relativePath);"
            "CREATE INDEX FilesFlagsIdx ON Files(flags);"
            "CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);"
        )
        for inode, f in enumerate(files, start=1000):
            fid = file_id(f.domain, f.relative_path)
            key_blob = None
            if f.data is not None:
                data = f.data
                if password is not None:
                    file_key = rng.bytes(32)
                    key_blob = struct.pack("<I", f.protection_class) + AES.new(
                        class_keys[f.protection_class], AES.MODE_KW
                    ).seal(file_key)
                    data = AES.new(file_key, AES.MODE_CBC, iv=bytes(16)).encrypt(pad(data, 16))
                (root / fid[:2]).mkdir(exist_ok=True)
                (root / fid[:2] / fid).write_bytes(data)
            flags = 2 if f.data is None else 1
            con.execute(
                "INSERT INTO Files VALUES (?, ?, ?, ?, ?)",
                (fid, f.domain, f.relative_path, flags, _mbfile(f, inode, key_blob)),
            )
        con.commit()
        con.close()
        db = db_path.read_bytes()

    manifest: dict[str, object] = {
        "BackupKeyBag": keybag or b"",
        "Date": datetime(2024, 1, 1, 12, 0, 0),
        "IsEncrypted": password is not None,
        "Lockdown": {
            "BuildVersion": build_version,
            "DeviceName": device_name,
            "ProductType": product_type,
            "ProductVersion": product_version,
            "SerialNumber": serial,
            "UniqueDeviceID": udid,
        },
        "SystemDomainsVersion": "24.0",
        "Version": "10.0",
        "WasPasscodeSet": True,
        "Applications": {
            a: {
                "CFBundleIdentifier": a,
                "CFBundleVersion": "1",
                "ContainerContentClass": "Data/Application",
            }
            for a in apps
        },
    }
    if password is not None:
        db_key = rng.bytes(32)
        manifest["ManifestKey"] = struct.pack("<I", 4) + AES.new(class_keys[4], AES.MODE_KW).seal(
            db_key
        )
        db = AES.new(db_key, AES.MODE_CBC, iv=bytes(16)).encrypt(db)  # pages: whole blocks
    (root / "Manifest.db").write_bytes(db)
    (root / "Manifest.plist").write_bytes(plistlib.dumps(manifest, fmt=plistlib.FMT_BINARY))
    (root / "Status.plist").write_bytes(
        plistlib.dumps(
            {
                "BackupState": "new",
                "Date": datetime(2024, 1, 1, 12, 0, 0),
                "IsFullBackup": True,
                "SnapshotState": "finished",
                "UUID": "3B1D2C3E-0000-4000-8000-000000000001",
                "Version": "3.3",
            },
            fmt=plistlib.FMT_BINARY,
        )
    )
    (root / "Info.plist").write_bytes(
        plistlib.dumps(
            {
                "Build Version": build_version,
                "Device Name": device_name,
                "Display Name": device_name,
                "IMEI": imei,
                "Installed Applications": apps,
                "Last Backup Date": datetime(2024, 1, 1, 12, 0, 0),
                "Product Type": product_type,
                "Product Version": product_version,
                "Serial Number": serial,
                "Target Identifier": udid,
                "Target Type": "Device",
                "Unique Identifier": udid.upper(),
            }
        )
    )
    return root


class _Rng:
    """Deterministic bytes (SHA-256 counter mode): samples are reproducible, not secret."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.n = 0

    def bytes(self, count: int) -> bytes:
        out = b""
        while len(out) < count:
            self.n += 1
            out += hashlib.sha256(f"vmf-sample-{self.seed}-{self.n}".encode()).digest()
        return out[:count]


def _tlv(tag: str, value: bytes | int) -> bytes:
    raw = struct.pack(">I", value) if isinstance(value, int) else value
    return tag.encode() + struct.pack(">I", len(raw)) + raw


def _keybag(password: str, rng: _Rng, dpic: int, iterations: int) -> tuple[bytes, dict[int, bytes]]:
    salt, dpsl = rng.bytes(20), rng.bytes(20)
    k1 = hashlib.pbkdf2_hmac("sha256", password.encode(), dpsl, dpic, 32)
    kek = hashlib.pbkdf2_hmac("sha1", k1, salt, iterations, 32)
    blob = b"".join(
        [
            _tlv("VERS", 5),
            _tlv("TYPE", 1),
            _tlv("UUID", rng.bytes(16)),
            _tlv("HMCK", rng.bytes(40)),
            _tlv("WRAP", 0),
            _tlv("SALT", salt),
            _tlv("ITER", iterations),
            _tlv("DPWT", 1),
            _tlv("DPIC", dpic),
            _tlv("DPSL", dpsl),
        ]
    )
    keys: dict[int, bytes] = {}
    for cls in range(1, 12):
        if cls == 5:
            continue
        keys[cls] = rng.bytes(32)
        blob += b"".join(
            [
                _tlv("UUID", rng.bytes(16)),
                _tlv("CLAS", cls),
                _tlv("WRAP", 3),
                _tlv("KTYP", 0),
                _tlv("WPKY", AES.new(kek, AES.MODE_KW).seal(keys[cls])),
            ]
        )
    return blob, keys


def _mbfile(f: SampleFile, inode: int, key_blob: bytes | None) -> bytes:
    is_dir = f.data is None
    objects: list[object] = ["$null"]
    root: dict[str, object] = {
        "Birth": f.mtime,
        "LastModified": f.mtime,
        "LastStatusChange": f.mtime,
        "Size": 0 if is_dir else len(f.data or b""),
        "Mode": 0o40755 if is_dir else 0o100644,
        "UserID": 501,
        "GroupID": 501,
        "InodeNumber": inode,
        "Flags": 0,
        "ProtectionClass": 0 if is_dir else f.protection_class,
        "RelativePath": plistlib.UID(2),
        "$class": plistlib.UID(3),
    }
    objects.append(root)
    objects.append(f.relative_path)
    objects.append({"$classname": "MBFile", "$classes": ["MBFile", "NSObject"]})
    if key_blob is not None:
        root["EncryptionKey"] = plistlib.UID(len(objects))
        objects.append({"NS.data": key_blob, "$class": plistlib.UID(len(objects) + 1)})
        objects.append(
            {"$classname": "NSMutableData", "$classes": ["NSMutableData", "NSData", "NSObject"]}
        )
    archive = {
        "$archiver": "NSKeyedArchiver",
        "$version": 100000,
        "$top": {"root": plistlib.UID(1)},
        "$objects": objects,
    }
    return plistlib.dumps(archive, fmt=plistlib.FMT_BINARY)


__all__ = ["DEFAULT_UDID", "SampleFile", "build_backup", "default_files", "file_id"]
