"""Synthetic iTunes/Finder backups: modern plain, modern encrypted, legacy Manifest.mbdb.

Everything is derived from fixed seeds: keys come from SHA-256 of labels, times are
fixed, SQLite files are written by one sequence of statements, so the same library
versions (``VERSIONS``) rebuild byte-identical images.
"""

from __future__ import annotations

import hashlib
import plistlib
import sqlite3
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from Crypto.Cipher import AES
from Crypto.Util.Padding import pad

from builders import audio, common

UDID = "00008110-000A1B2C3D4E5F60"
BASE_TIME = 1767225600  # 2026-01-01T00:00:00Z
COCOA_EPOCH = 978307200
PASSWORD = "vmf-demo-2026"
DPIC, ITER = 100, 10  # low on purpose: tests and the demo should not wait for PBKDF2


versions = common.versions
det_bytes = common.det_bytes


# -- voicemail content -------------------------------------------------------------
@dataclass
class Message:
    rowid: int
    sender: str
    date: int
    duration: int
    flags: int
    trashed_date: int = 0
    transcript: str | None = None
    has_audio: bool = True
    table: str = "voicemail"


MESSAGES = [
    Message(
        1,
        "+14155550101",
        BASE_TIME + 3600,
        3,
        3 | 0x100,
        transcript="Hi, it's Alex. Call me back about the contract, thanks.",
    ),
    Message(
        2,
        "+14155550102",
        BASE_TIME + 7200,
        4,
        67 | 0x100,
        transcript="This is the pharmacy, your prescription is ready.",
    ),
    Message(
        3, "+14155550103", BASE_TIME + 10800, 2, 75, trashed_date=BASE_TIME + 86400 - COCOA_EPOCH
    ),
    Message(4, "+14155550104", BASE_TIME + 14400, 5, 1, has_audio=False),
    Message(5, "+14155550105", BASE_TIME + 18000, 2, 67, table="deleted"),
]
ORPHAN_ROWID = 9
LEGACY_MESSAGES = MESSAGES[:3]

MODERN_DDL = [
    "CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key))",
    "CREATE TABLE voicemail (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, remote_uid INTEGER, "
    "date INTEGER, token TEXT, sender TEXT, callback_num TEXT, duration INTEGER, "
    "expiration INTEGER, trashed_date INTEGER, flags INTEGER, receiver TEXT, label TEXT)",
    "CREATE TABLE deleted (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, remote_uid INTEGER, "
    "date INTEGER, token TEXT, sender TEXT, callback_num TEXT, duration INTEGER, "
    "expiration INTEGER, trashed_date INTEGER, flags INTEGER, receiver TEXT, label TEXT)",
    "CREATE TABLE map (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT, label TEXT)",
    "CREATE INDEX date_index ON voicemail(date)",
    "CREATE INDEX remote_uid_index ON voicemail(remote_uid)",
]
LEGACY_DDL = [
    "CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key))",
    "CREATE TABLE voicemail (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, remote_uid INTEGER, "
    "date INTEGER, token TEXT, sender TEXT, callback_num TEXT, duration INTEGER, "
    "expiration INTEGER, trashed_date INTEGER, flags INTEGER)",
    "CREATE INDEX date_index ON voicemail(date)",
    "CREATE INDEX remote_uid_index ON voicemail(remote_uid)",
]
LABEL = "6F1C2D3E-4A5B-4C6D-8E9F-0A1B2C3D4E5F"
ICCID = "8901260123456789012"
RECEIVER = "+14155550100"


def voicemail_db(path: Path, legacy: bool) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA page_size=4096")
    conn.execute("PRAGMA journal_mode=DELETE")
    for stmt in LEGACY_DDL if legacy else MODERN_DDL:
        conn.execute(stmt)
    conn.executemany(
        "INSERT INTO _SqliteDatabaseProperties VALUES (?, ?)",
        [("_ClientVersion", "4" if legacy else "10"), ("FilesCleaned", "1")],
    )
    if not legacy:
        conn.execute("INSERT INTO map (account, label) VALUES (?, ?)", (ICCID, LABEL))
    for m in LEGACY_MESSAGES if legacy else MESSAGES:
        values = [
            m.rowid,
            1000 + m.rowid,
            m.date,
            f"tok{m.rowid}",
            m.sender,
            m.sender,
            m.duration,
            m.date + 30 * 86400,
            m.trashed_date,
            m.flags,
        ]
        if not legacy:
            values += [RECEIVER, LABEL]
        marks = ",".join("?" * len(values))
        conn.execute(f"INSERT INTO {m.table} VALUES ({marks})", values)
    conn.commit()
    conn.close()


def transcript_archive(text: str, confidence: float) -> bytes:
    """An NSKeyedArchiver bplist of a ``VMVoicemailTranscript``."""
    uid = plistlib.UID
    objects = [
        "$null",
        {
            "$class": uid(3),
            "transcriptionString": uid(2),
            "confidence": confidence,
            "confidenceRating": 3,
            "segments": uid(4),
        },
        text,
        {"$classname": "VMVoicemailTranscript", "$classes": ["VMVoicemailTranscript", "NSObject"]},
        {"$class": uid(5), "NS.objects": []},
        {"$classname": "NSArray", "$classes": ["NSArray", "NSObject"]},
    ]
    archive = {
        "$archiver": "NSKeyedArchiver",
        "$version": 100000,
        "$top": {"root": uid(1)},
        "$objects": objects,
    }
    return plistlib.dumps(archive, fmt=plistlib.FMT_BINARY, sort_keys=True)


# -- backup files ------------------------------------------------------------------
@dataclass
class BackupFile:
    domain: str
    path: str
    data: bytes | None  # None for a directory
    mtime: int = BASE_TIME

    @property
    def file_id(self) -> str:
        return hashlib.sha1(f"{self.domain}-{self.path}".encode()).hexdigest()


def content(tmp: Path, legacy: bool) -> list[BackupFile]:
    db = tmp / ("legacy-voicemail.db" if legacy else "voicemail.db")
    voicemail_db(db, legacy)
    vm = "Library/Voicemail"
    files = [
        BackupFile("HomeDomain", "Library", None),
        BackupFile("HomeDomain", vm, None),
        BackupFile("HomeDomain", f"{vm}/voicemail.db", db.read_bytes()),
    ]
    messages = LEGACY_MESSAGES if legacy else MESSAGES
    for m in messages:
        if m.has_audio:
            files.append(
                BackupFile(
                    "HomeDomain",
                    f"{vm}/{m.rowid}.amr",
                    audio.amr_nb(float(m.duration), m.rowid),
                    m.date,
                )
            )
        if m.transcript:
            files.append(
                BackupFile(
                    "HomeDomain",
                    f"{vm}/{m.rowid}.transcript",
                    transcript_archive(m.transcript, 0.87),
                    m.date,
                )
            )
    if not legacy:
        files.append(
            BackupFile(
                "HomeDomain",
                f"{vm}/{ORPHAN_ROWID}.amr",
                audio.amr_nb(2.0, ORPHAN_ROWID),
                BASE_TIME + 20000,
            )
        )
    prefs = plistlib.dumps({"VVMEnabled": True, "LastSync": BASE_TIME}, fmt=plistlib.FMT_BINARY)
    files.append(
        BackupFile(
            "HomeDomain", "Library/Preferences/com.apple.visualvoicemail.preferences.plist", prefs
        )
    )
    return files


# -- keybag and encryption ---------------------------------------------------------
@dataclass
class Keys:
    class_keys: dict[int, bytes] = field(default_factory=dict)
    keybag: bytes = b""


def _tlv(tag: str, value: bytes | int) -> bytes:
    raw = value.to_bytes(4, "big") if isinstance(value, int) else value
    return tag.encode() + struct.pack(">I", len(raw)) + raw


def make_keys(password: str) -> Keys:
    salt, dpsl = det_bytes("SALT", 20), det_bytes("DPSL", 20)
    k1 = hashlib.pbkdf2_hmac("sha256", password.encode(), dpsl, DPIC, 32)
    kek = hashlib.pbkdf2_hmac("sha1", k1, salt, ITER, 32)
    keys = Keys()
    parts = [
        _tlv("VERS", 4),
        _tlv("TYPE", 1),
        _tlv("UUID", det_bytes("bag-uuid", 16)),
        _tlv("HMCK", det_bytes("HMCK", 40)),
        _tlv("WRAP", 0),
        _tlv("SALT", salt),
        _tlv("ITER", ITER),
        _tlv("DPWT", 1),
        _tlv("DPIC", DPIC),
        _tlv("DPSL", dpsl),
    ]
    for cls in range(1, 12):
        key = det_bytes(f"class-{cls}", 32)
        keys.class_keys[cls] = key
        parts += [
            _tlv("UUID", det_bytes(f"class-uuid-{cls}", 16)),
            _tlv("CLAS", cls),
            _tlv("WRAP", 3),
            _tlv("KTYP", 0),
            _tlv("WPKY", AES.new(kek, AES.MODE_KW).seal(key)),
        ]
    keys.keybag = b"".join(parts)
    return keys


def encrypt_file(keys: Keys, f: BackupFile, cls: int = 3) -> tuple[bytes, bytes]:
    """(ciphertext, EncryptionKey blob) with a per-file key wrapped by the class key."""
    file_key = det_bytes(f"file-key/{f.domain}/{f.path}", 32)
    wrapped = AES.new(keys.class_keys[cls], AES.MODE_KW).seal(file_key)
    assert f.data is not None
    cipher = AES.new(file_key, AES.MODE_CBC, iv=b"\x00" * 16).encrypt(pad(f.data, 16))
    return cipher, struct.pack("<I", cls) + wrapped


def mbfile_blob(f: BackupFile, key_blob: bytes | None) -> bytes:
    uid = plistlib.UID
    is_dir = f.data is None
    record = {
        "$class": uid(3),
        "RelativePath": uid(2),
        "Size": 0 if is_dir else len(f.data or b""),
        "Mode": 0o40755 if is_dir else 0o100644,
        "Birth": f.mtime,
        "LastModified": f.mtime,
        "LastStatusChange": f.mtime,
        "UserID": 501,
        "GroupID": 501,
        "InodeNumber": 0,
        "Flags": 0,
        "ProtectionClass": 0 if is_dir else 3,
    }
    objects: list[object] = [
        "$null",
        record,
        f.path,
        {"$classname": "MBFile", "$classes": ["MBFile", "NSObject"]},
    ]
    if key_blob is not None:
        record["EncryptionKey"] = uid(4)
        objects += [
            {"$class": uid(5), "NS.data": key_blob},
            {"$classname": "NSMutableData", "$classes": ["NSMutableData", "NSData", "NSObject"]},
        ]
    archive = {
        "$archiver": "NSKeyedArchiver",
        "$version": 100000,
        "$top": {"root": uid(1)},
        "$objects": objects,
    }
    return plistlib.dumps(archive, fmt=plistlib.FMT_BINARY, sort_keys=True)


# -- writing the backup folder -----------------------------------------------------
def _plists(
    out: Path, encrypted: bool, keys: Keys | None, legacy: bool, manifest_key: bytes | None
) -> None:
    date = datetime.fromtimestamp(BASE_TIME + 30000, tz=UTC).replace(tzinfo=None)
    version = "9.3.5" if legacy else "17.5.1"
    product = "iPhone8,1" if legacy else "iPhone14,2"
    info = {
        "Build Version": "13G36" if legacy else "21F90",
        "Device Name": "Examiner Test Phone",
        "Display Name": "Examiner Test Phone",
        "GUID": "0A1B2C3D4E5F60718293A4B5C6D7E8F9",
        "IMEI": "356789012345678",
        "Last Backup Date": date,
        "Phone Number": RECEIVER,
        "Product Type": product,
        "Product Version": version,
        "Serial Number": "F2LZK0XXHG7F",
        "Target Identifier": UDID,
        "Target Type": "Device",
        "Unique Identifier": UDID,
        "iTunes Version": "12.13",
    }
    manifest: dict[str, object] = {
        "IsEncrypted": encrypted,
        "Version": "9.1" if legacy else "10.0",
        "Date": date,
        "WasPasscodeSet": True,
        "SystemDomainsVersion": "24.0",
        "Lockdown": {
            "ProductType": product,
            "ProductVersion": version,
            "UniqueDeviceID": UDID,
            "BuildVersion": info["Build Version"],
            "DeviceName": info["Device Name"],
            "SerialNumber": info["Serial Number"],
        },
        "BackupKeyBag": keys.keybag if keys else make_keys("unused").keybag,
    }
    if manifest_key is not None:
        manifest["ManifestKey"] = manifest_key
    status = {
        "BackupState": "new",
        "IsFullBackup": True,
        "Version": "3.3",
        "SnapshotState": "finished",
        "UUID": "A1B2C3D4-0000-4000-8000-000000000001",
        "Date": date,
    }
    for name, value, fmt in (
        ("Info.plist", info, plistlib.FMT_XML),
        ("Manifest.plist", manifest, plistlib.FMT_BINARY),
        ("Status.plist", status, plistlib.FMT_BINARY),
    ):
        (out / name).write_bytes(plistlib.dumps(value, fmt=fmt, sort_keys=True))


def _manifest_db(path: Path, rows: list[tuple[str, str, str, int, bytes]]) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA page_size=4096")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute(
        "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, "
        "flags INTEGER, file BLOB)"
    )
    conn.execute("CREATE INDEX FilesDomainIdx ON Files(domain)")
    conn.execute("CREATE INDEX FilesRelativePathIdx ON Files(relativePath)")
    conn.execute("CREATE INDEX FilesFlagsIdx ON Files(flags)")
    conn.execute("CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB)")
    conn.executemany("INSERT INTO Files VALUES (?,?,?,?,?)", sorted(rows))
    conn.commit()
    conn.close()


def build_modern(out: Path, *, encrypted: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    keys = make_keys(PASSWORD) if encrypted else None
    rows = []
    for f in content(out.parent, legacy=False):
        key_blob = None
        if f.data is not None:
            data = f.data
            if keys is not None:
                data, key_blob = encrypt_file(keys, f)
            target = out / f.file_id[:2] / f.file_id
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(data)
        rows.append(
            (f.file_id, f.domain, f.path, 2 if f.data is None else 1, mbfile_blob(f, key_blob))
        )
    (out.parent / "voicemail.db").unlink(missing_ok=True)
    db = out / "Manifest.db"
    _manifest_db(db, rows)
    manifest_key = None
    if keys is not None:
        db_key = det_bytes("manifest-db-key", 32)
        plain = db.read_bytes()
        db.write_bytes(AES.new(db_key, AES.MODE_CBC, iv=b"\x00" * 16).encrypt(plain))
        manifest_key = struct.pack("<I", 4) + AES.new(keys.class_keys[4], AES.MODE_KW).seal(db_key)
    _plists(out, encrypted, keys, legacy=False, manifest_key=manifest_key)


def _mbdb_string(value: str | bytes | None) -> bytes:
    if value is None or value == b"" or value == "":
        return b"\xff\xff"
    raw = value.encode() if isinstance(value, str) else value
    return struct.pack(">H", len(raw)) + raw


def build_legacy(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    records = [b"mbdb\x05\x00"]
    for inode, f in enumerate(content(out.parent, legacy=True), start=1):
        is_dir = f.data is None
        mode = 0o40755 if is_dir else 0o100644
        size = 0 if is_dir else len(f.data or b"")
        records.append(
            _mbdb_string(f.domain)
            + _mbdb_string(f.path)
            + _mbdb_string(None)
            + _mbdb_string(None if is_dir else hashlib.sha1(f.data or b"").digest())
            + _mbdb_string(None)
            + struct.pack(
                ">HQIIIIIQBB",
                mode,
                inode,
                501,
                501,
                f.mtime,
                f.mtime,
                f.mtime,
                size,
                0 if is_dir else 3,
                0,
            )
        )
        if not is_dir:
            (out / f.file_id).write_bytes(f.data or b"")
    (out.parent / "legacy-voicemail.db").unlink(missing_ok=True)
    (out / "Manifest.mbdb").write_bytes(b"".join(records))
    _plists(out, False, None, legacy=True, manifest_key=None)


FFS_VM = "private/var/mobile/Library/Voicemail"
WAL_DELETED = Message(6, "+14155550106", BASE_TIME + 21600, 3, 3, transcript=None)


def build_ffs_wal(out: Path) -> None:
    """A file-system extraction whose voicemail.db has a -wal: message 6 was received and
    then deleted after the last checkpoint (only the WAL still holds it, and its audio is
    still on disk), and message 1 was marked heard (its older version is in the WAL).

    WAL headers carry random salts, so this image is compared by content, not bytes.
    """
    folder = out / FFS_VM
    folder.mkdir(parents=True)
    db = folder / "voicemail.db"
    voicemail_db(db, legacy=False)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    m = WAL_DELETED
    conn.execute(
        "INSERT INTO voicemail VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            m.rowid,
            1000 + m.rowid,
            m.date,
            f"tok{m.rowid}",
            m.sender,
            m.sender,
            m.duration,
            m.date + 30 * 86400,
            0,
            m.flags,
            RECEIVER,
            LABEL,
        ),
    )
    conn.commit()
    conn.execute("DELETE FROM voicemail WHERE ROWID=?", (m.rowid,))
    conn.commit()
    conn.execute("UPDATE voicemail SET flags=? WHERE ROWID=1", (67 | 0x100,))
    conn.commit()
    snapshot = {p.name: p.read_bytes() for p in folder.iterdir()}
    conn.close()
    for name, data in snapshot.items():
        if name.endswith(("-wal", ".db")):
            (folder / name).write_bytes(data)
    (folder / "voicemail.db-shm").unlink(missing_ok=True)
    for msg in (*MESSAGES[:3], m):
        (folder / f"{msg.rowid}.amr").write_bytes(audio.amr_nb(float(msg.duration), msg.rowid))


def _password_file(out: Path) -> None:
    out.with_name(out.name + ".password").write_text(PASSWORD + "\n")


IMAGES: dict[str, Callable[[Path], None]] = {
    "ios-plain": lambda out: build_modern(out, encrypted=False),
    "ios-encrypted": lambda out: (build_modern(out, encrypted=True), _password_file(out))[0],
    "ios-legacy": build_legacy,
    "ios-ffs-wal": build_ffs_wal,
}
