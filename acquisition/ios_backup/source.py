"""An iTunes/Finder backup folder as a source of ``<domain>/<relativePath>`` entries.

The folder is only read. Manifest.db is copied (or decrypted) into the caller's
``workdir`` before SQLite touches it, because opening a database can write to it.
Encrypted backups are unlocked in ``open()``: a wrong password fails there, before
anything about the source is written.
"""

from __future__ import annotations

import hashlib
import plistlib
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from acquisition.base import Entry, EntryKind, Problem, Source
from acquisition.errors import NotRecognised, PasswordRequired, SourceUnavailable, WrongPassword
from acquisition.ios_backup.crypto import decrypt_database, open_decrypted
from acquisition.ios_backup.keybag import Keybag
from acquisition.ios_backup.manifest import ManifestRow, check_rows, read_rows
from acquisition.ios_backup.mbdb import MbdbError, MbdbRecord, read_mbdb
from acquisition.paths import SafePath, sanitise

SQLITE_MAGIC = b"SQLite format 3\x00"
MARKERS = ("Manifest.db", "Manifest.mbdb")
# A fileID names a file inside the backup folder (a SHA-1 in hex); anything else could
# point outside it ('/etc/passwd', '../..'), and what it points at would be stored as
# evidence, so hex only: no separator or dot can slip through.
FILE_ID = re.compile(r"[0-9A-Fa-f]{2,128}")


def _find_root(path: Path) -> Path | None:
    if any((path / m).is_file() for m in MARKERS):
        return path
    if path.is_dir():
        subs = [p for p in path.iterdir() if p.is_dir() and any((p / m).is_file() for m in MARKERS)]
        if len(subs) == 1:
            return subs[0]
    return None


def _load_plist(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    if not path.is_file():
        return None, None
    try:
        with open(path, "rb") as f:
            value = plistlib.load(f)
    except Exception as exc:
        return None, f"{path.name} is not a property list ({type(exc).__name__})"
    if not isinstance(value, dict):
        return None, f"{path.name} is not a dictionary property list"
    return value, None


def _times(mb: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, name in (("LastModified", "mtime"), ("Birth", "birth"), ("LastStatusChange", "ctime")):
        if isinstance(mb.get(key), int | float):
            out[name] = float(mb[key])
    return out


class IosBackupSource(Source):
    kind: ClassVar[str] = "ios-backup"
    sequential: ClassVar[bool] = False

    def __init__(
        self, location: str, *, password: str | None = None, workdir: Path | None = None
    ) -> None:
        super().__init__(location)
        self._password = password
        self._workdir_given = workdir
        self.root = Path(location)
        self.info: dict[str, Any] = {}
        self.manifest: dict[str, Any] = {}
        self.status: dict[str, Any] = {}
        self.encrypted = False
        self.legacy = False
        self._keybag: Keybag | None = None
        self._db_copy: Path | None = None
        self._open_problems: list[Problem] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._paths_seen: set[bytes] = set()  # 8-byte digests: millions of rows stay small
        self._suffixes: dict[str, int] = {}  # duplicated paths only

    @classmethod
    def probe(cls, path: Path) -> bool:
        return path.is_dir() and _find_root(path) is not None

    # -- opening -------------------------------------------------------------------
    def open(self) -> None:
        if not self.root.exists():
            raise SourceUnavailable(f"{self.location}: no such file or folder")
        root = _find_root(self.root)
        if root is None:
            raise NotRecognised(f"{self.location}: not an iOS backup (no Manifest.db or .mbdb)")
        self.root = root
        self.legacy = not (root / "Manifest.db").is_file()
        self._read_plists()
        if self.encrypted:
            self._unlock()
        if not self.legacy:
            self._prepare_manifest_db()

    def _read_plists(self) -> None:
        for name, attr in (
            ("Info.plist", "info"),
            ("Manifest.plist", "manifest"),
            ("Status.plist", "status"),
        ):
            value, problem = _load_plist(self.root / name)
            if problem:
                self._open_problems.append(Problem(name, "open", problem))
            setattr(self, attr, value or {})
        self.encrypted = bool(self.manifest.get("IsEncrypted", False))
        manifest_broken = any(p.path == "Manifest.plist" for p in self._open_problems)
        if manifest_broken and not self.legacy and not self._db_is_plain():
            raise NotRecognised(
                f"{self.location}: Manifest.plist is not a property list and Manifest.db is "
                "not a plain SQLite file, so the backup's encryption cannot be determined"
            )
        state = self.status.get("SnapshotState")
        if state is not None and state != "finished":
            self._open_problems.append(
                Problem(
                    "Status.plist",
                    "open",
                    f"backup is incomplete: SnapshotState is {state!r}, not 'finished'",
                )
            )

    def _db_is_plain(self) -> bool:
        try:
            with open(self.root / "Manifest.db", "rb") as f:
                return f.read(16) == SQLITE_MAGIC
        except OSError:
            return False

    def _unlock(self) -> None:
        if self._password is None:
            raise PasswordRequired(
                f"{self.location}: the backup is encrypted and needs its password"
            )
        blob = self.manifest.get("BackupKeyBag")
        if not isinstance(blob, bytes):
            raise NotRecognised(f"{self.location}: encrypted backup without a BackupKeyBag")
        try:
            keybag = Keybag.parse(blob)
        except Exception as exc:
            raise NotRecognised(f"{self.location}: unreadable BackupKeyBag ({type(exc).__name__})")
        try:
            keybag.unlock(self._password)
        except WrongPassword:
            raise WrongPassword(
                f"{self.location}: wrong password for the encrypted backup"
            ) from None
        except ValueError as exc:
            raise NotRecognised(f"{self.location}: {exc}") from None
        self._keybag = keybag

    def _workdir(self) -> Path:
        if self._workdir_given is not None:
            self._workdir_given.mkdir(parents=True, exist_ok=True, mode=0o700)
            return Path(tempfile.mkdtemp(prefix="ios-backup-", dir=self._workdir_given))
        self._tmp = tempfile.TemporaryDirectory(prefix="vmf-ios-backup-")
        return Path(self._tmp.name)

    def _prepare_manifest_db(self) -> None:
        src = self.root / "Manifest.db"
        dst = self._workdir() / "Manifest.db"
        try:
            with open(src, "rb") as raw, open(dst, "wb") as out:
                if self.encrypted and self.manifest.get("ManifestKey"):
                    decrypt_database(raw, self._manifest_key(), out)
                else:
                    shutil.copyfileobj(raw, out, 1 << 20)
        except OSError as exc:
            raise SourceUnavailable(f"{src}: cannot read ({exc.strerror or exc})") from None
        with open(dst, "rb") as f:
            if f.read(16) != SQLITE_MAGIC:
                what = "did not decrypt to" if self.encrypted else "is not"
                raise NotRecognised(f"{src}: {what} a SQLite database")
        try:
            check_rows(dst)
        except sqlite3.Error as exc:
            raise NotRecognised(f"{src}: the backup's file list cannot be read ({exc})") from None
        self._db_copy = dst

    def _manifest_key(self) -> bytes:
        assert self._keybag is not None
        blob = self.manifest["ManifestKey"]
        if not isinstance(blob, bytes) or len(blob) < 4 + 24:
            raise NotRecognised(f"{self.location}: ManifestKey is not a wrapped key")
        cls = int.from_bytes(blob[:4], "little")
        try:
            return self._keybag.unwrap_for_class(cls, blob[4:])
        except (KeyError, ValueError):
            raise WrongPassword(
                f"{self.location}: ManifestKey does not unwrap: wrong password"
            ) from None

    def close(self) -> None:
        if self._db_copy is not None:
            shutil.rmtree(self._db_copy.parent, ignore_errors=True)
            self._db_copy = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- description ---------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        lockdown = self.manifest.get("Lockdown")
        if not isinstance(lockdown, dict):
            lockdown = {}

        def pick(info_key: str, lockdown_key: str) -> Any:
            return self.info.get(info_key) or lockdown.get(lockdown_key)

        backup_date = self.info.get("Last Backup Date") or self.manifest.get("Date")
        return {key: _plain(value) for key, value in self._description(pick, backup_date).items()}

    def _description(self, pick: Any, backup_date: Any) -> dict[str, Any]:
        return {
            "udid": pick("Unique Identifier", "UniqueDeviceID") or self.root.name,
            "device_name": pick("Device Name", "DeviceName"),
            "product_type": pick("Product Type", "ProductType"),
            "ios_version": pick("Product Version", "ProductVersion"),
            "build_version": pick("Build Version", "BuildVersion"),
            "serial_number": pick("Serial Number", "SerialNumber"),
            "imei": self.info.get("IMEI"),
            "phone_number": self.info.get("Phone Number"),
            "backup_date_utc": _iso(backup_date),
            "encrypted": self.encrypted,
            "manifest_format": "Manifest.mbdb" if self.legacy else "Manifest.db",
            "backup_version": self.manifest.get("Version"),
            "snapshot_state": self.status.get("SnapshotState"),
            "is_full_backup": self.status.get("IsFullBackup"),
            "backup_folder": self.root.name,
        }

    # -- entries -------------------------------------------------------------------
    def entries(self) -> Iterator[Entry | Problem]:
        yield from self._open_problems
        if self.legacy:
            yield from self._mbdb_entries()
        else:
            assert self._db_copy is not None
            try:
                for row in read_rows(self._db_copy):
                    yield from self._row_entries(row)
            except sqlite3.Error as exc:  # damage met part-way: what was listed is kept
                yield Problem("Manifest.db", "parse", f"file list ends early: {exc}")

    def _row_entries(self, row: ManifestRow) -> Iterator[Entry | Problem]:
        mb = row.mbfile
        key_blob = mb.get("EncryptionKey") if isinstance(mb.get("EncryptionKey"), bytes) else None
        yield from self._make_entry(
            domain=row.domain,
            rel=row.relative_path,
            file_id=row.file_id,
            kind=row.kind,
            size=mb.get("Size") if isinstance(mb.get("Size"), int) else None,
            times=_times(mb),
            mode=mb.get("Mode") if isinstance(mb.get("Mode"), int) else None,
            link=mb.get("Target") if isinstance(mb.get("Target"), str) else None,
            protection=mb.get("ProtectionClass"),
            key_blob=key_blob,
            stored=self.root / row.file_id[:2] / row.file_id,
            problem=row.problem,
        )

    def _mbdb_entries(self) -> Iterator[Entry | Problem]:
        try:
            stream = open(self.root / "Manifest.mbdb", "rb")
        except OSError as exc:
            yield Problem("Manifest.mbdb", "open", f"cannot read: {exc.strerror or exc}")
            return
        with stream:
            for rec in read_mbdb(stream):
                if isinstance(rec, MbdbError):
                    yield Problem("Manifest.mbdb", "parse", str(rec), offset=rec.offset)
                    continue
                yield from self._mbdb_entry(rec)

    def _mbdb_entry(self, rec: MbdbRecord) -> Iterator[Entry | Problem]:
        yield from self._make_entry(
            domain=rec.domain,
            rel=rec.path,
            file_id=rec.file_id,
            kind=rec.kind,
            size=rec.size,
            times={"mtime": float(rec.mtime), "ctime": float(rec.ctime)},
            mode=rec.mode,
            link=rec.link_target or None,
            protection=rec.protection_class,
            key_blob=rec.encryption_key or None,
            stored=self.root / rec.file_id,
            problem=None,
        )

    def _make_entry(
        self,
        *,
        domain: str,
        rel: str,
        file_id: str,
        kind: str,
        size: int | None,
        times: dict[str, float],
        mode: int | None,
        link: str | None,
        protection: Any,
        key_blob: bytes | None,
        stored: Path,
        problem: str | None,
    ) -> Iterator[Entry | Problem]:
        safe_domain, safe_rel = sanitise(domain), sanitise(rel)
        safe = SafePath(
            "/".join(p for p in (safe_domain.path, safe_rel.path) if p),
            safe_domain.issues + safe_rel.issues,
        )
        # printable: a fileID that is not UTF-8 arrives with surrogates, which JSON refuses
        origin = file_id.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        if problem:
            yield Problem(safe.path, "parse", problem, origin=origin)
        for issue in safe.issues:
            yield Problem(
                safe.path,
                "open",
                f"hostile name in the manifest ({issue}): {domain!r}/{rel!r}",
                origin=origin,
            )
        meta = {"domain": domain, "relative_path": rel, "file_id": file_id}
        entry_kind = {
            "file": EntryKind.FILE,
            "dir": EntryKind.DIR,
            "symlink": EntryKind.SYMLINK,
        }.get(kind, EntryKind.OTHER)
        if entry_kind is not EntryKind.FILE:
            yield Entry(
                safe.path,
                entry_kind,
                size=0,
                times=times,
                mode=mode,
                origin=origin,
                link_target=link,
                meta=meta,
            )
            return
        if not FILE_ID.fullmatch(file_id):
            yield Problem(
                safe.path,
                "acquire",
                f"not read: the manifest gives it the hostile fileID {file_id!r} "
                "(not a hex name inside the backup folder)",
                origin=origin,
            )
            return
        if not stored.is_file():
            yield Problem(
                safe.path,
                "acquire",
                f"listed in the manifest (fileID {file_id}) but missing from the backup folder",
                origin=origin,
            )
            return
        path = self._unique(safe.path)
        if path != safe.path:
            yield Problem(
                path,
                "open",
                f"duplicate path: an earlier manifest row is already {safe.path!r} "
                f"({domain!r}/{rel!r}); this one is listed as {path!r}",
                origin=origin,
            )
        opener = self._opener(stored, key_blob, protection, size, path)
        if isinstance(opener, Problem):
            yield opener
            return
        yield Entry(
            path,
            EntryKind.FILE,
            size=size,
            times=times,
            mode=mode,
            origin=origin,
            meta=meta,
            opener=opener,
        )

    def _unique(self, path: str) -> str:
        """Two rows that sanitise to one path ('/x' and 'x') are both kept: the later
        one gets '~2', '~3'... as container members do."""
        candidate, n = path, self._suffixes.get(path, 1)
        while True:
            key = hashlib.blake2b(candidate.encode("utf-8", "surrogatepass"), digest_size=8)
            if key.digest() not in self._paths_seen:
                self._paths_seen.add(key.digest())
                if n > 1:
                    self._suffixes[path] = n  # the next duplicate starts here: no n**2
                return candidate
            n += 1
            candidate = f"{path}~{n}"

    def _opener(
        self, stored: Path, key_blob: bytes | None, protection: Any, size: int | None, name: str
    ) -> Any:
        if not self.encrypted:
            return lambda: open(stored, "rb")
        if not key_blob or len(key_blob) < 44:
            return Problem(
                name,
                "decrypt",
                "encrypted backup but the file has no EncryptionKey",
                origin=stored.name,
            )
        cls = int.from_bytes(key_blob[:4], "little")
        if not cls and protection is not None and not isinstance(protection, int):
            return Problem(
                name,
                "decrypt",
                f"ProtectionClass {protection!r} is not a class number",
                origin=stored.name,
            )
        cls = cls or protection or 0
        assert self._keybag is not None
        try:
            file_key = self._keybag.unwrap_for_class(cls, key_blob[4:44])
        except (KeyError, ValueError) as exc:
            return Problem(name, "decrypt", f"file key does not unwrap: {exc}", origin=stored.name)

        def opener() -> BinaryIO:
            return open_decrypted(open(stored, "rb"), file_key, size, name)

        return opener


def _plain(value: Any) -> Any:
    """A plist value as it can go into case.json: the plist is the backup's, its types
    are whatever the file says (data where a string belongs, arrays, dates)."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


def file_id(domain: str, relative_path: str) -> str:
    return hashlib.sha1(f"{domain}-{relative_path}".encode()).hexdigest()
