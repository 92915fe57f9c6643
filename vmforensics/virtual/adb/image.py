"""A device image: a folder holding an Android file system, plus device facts.

The image is what the virtual phone serves. Its root mirrors the device's ``/``
(``data/data/<pkg>``, ``sdcard`` or ``storage/emulated/0``, ...). An optional
``device.json`` beside it describes the phone: properties, which packages are debuggable,
what the backup agent does, clock skew. Tar and zip images are unpacked into a temporary
folder first, refusing members that would land outside it.

``device.json`` keys (all optional)::

    serial, model, manufacturer, android_version, sdk, fingerprint   -> ro.* properties
    properties: {"ro.build.characteristics": "watch", ...}           any getprop value
    packages: ["com.x", ...]           installed without a data folder in the image
    debuggable_packages: ["com.x"]     run-as works for these
    voicemail_provider_readable: bool  content query on the voicemail URI (default false)
    call_log_readable: bool            content query on call_log/calls (default true)
    clock_offset_s: int                device clock minus real time
    selinux_hidden: ["/data/data/com.x/files/a"]  files `tar` silently leaves out (as an
                                       SELinux denial does) while `find` still lists them
    backup: {confirm: bool (true), password: str|null (user typed it on screen),
             excluded: ["com.x"] (agent gives nothing), rounds: int (10000)}
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEVICE_JSON = "device.json"

DEFAULT_PROPERTIES: dict[str, str] = {
    "ro.product.manufacturer": "vmforensics",
    "ro.product.brand": "vmforensics",
    "ro.product.model": "Virtual Phone",
    "ro.product.name": "vmf_virtual",
    "ro.product.device": "vmf_virtual",
    "ro.build.version.release": "14",
    "ro.build.version.sdk": "34",
    "ro.build.id": "UQ1A.240105.004",
    "ro.build.type": "user",
    "ro.build.tags": "release-keys",
    "ro.build.characteristics": "default",
    "ro.build.fingerprint": (
        "vmforensics/vmf_virtual/vmf_virtual:14/UQ1A.240105.004/1:user/release-keys"
    ),
    "ro.serialno": "VMF00000001",
    "ro.debuggable": "0",
    "ro.secure": "1",
    "persist.sys.timezone": "UTC",
}

# device.json short keys that set a property
_PROPERTY_ALIASES = {
    "serial": "ro.serialno",
    "model": "ro.product.model",
    "manufacturer": "ro.product.manufacturer",
    "android_version": "ro.build.version.release",
    "sdk": "ro.build.version.sdk",
    "fingerprint": "ro.build.fingerprint",
}

# the shell user may not look inside these device folders
_PRIVATE_PREFIXES = ("/data/data", "/data/user", "/data/user_de", "/data/misc", "/data/system")
_SHARED_ROOTS = ("/sdcard", "/storage/emulated/0", "/storage/self/primary", "/mnt/sdcard")


class ImageError(Exception):
    """The image cannot be served (missing, unsafe archive member, bad device.json)."""


@dataclass
class BackupSettings:
    confirm: bool = True  # the user taps "Back up my data"
    password: str | None = None  # typed on the device's confirmation screen
    excluded: tuple[str, ...] = ()  # apps whose agent refuses adb backup (Android 12+ rule)
    rounds: int = 10000


@dataclass
class DeviceFacts:
    properties: dict[str, str]
    debuggable: frozenset[str] = frozenset()
    extra_packages: tuple[str, ...] = ()
    voicemail_readable: bool = False
    call_log_readable: bool = True
    clock_offset_s: int = 0
    backup: BackupSettings = field(default_factory=BackupSettings)
    selinux_hidden: frozenset[str] = frozenset()

    @property
    def serial(self) -> str:
        return self.properties["ro.serialno"]


def _load_facts(root: Path) -> DeviceFacts:
    props = dict(DEFAULT_PROPERTIES)
    doc: dict[str, Any] = {}
    meta = root / DEVICE_JSON
    if meta.is_file():
        try:
            doc = json.loads(meta.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ImageError(f"{meta}: not valid JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise ImageError(f"{meta}: expected a JSON object")
    for short, key in _PROPERTY_ALIASES.items():
        if short in doc:
            props[key] = str(doc[short])
    for key, value in (doc.get("properties") or {}).items():
        props[str(key)] = str(value)
    raw_backup = doc.get("backup") or {}
    backup = BackupSettings(
        confirm=bool(raw_backup.get("confirm", True)),
        password=raw_backup.get("password") or None,
        excluded=tuple(raw_backup.get("excluded") or ()),
        rounds=int(raw_backup.get("rounds", 10000)),
    )
    return DeviceFacts(
        properties=props,
        debuggable=frozenset(doc.get("debuggable_packages") or ()),
        extra_packages=tuple(doc.get("packages") or ()),
        voicemail_readable=bool(doc.get("voicemail_provider_readable", False)),
        call_log_readable=bool(doc.get("call_log_readable", True)),
        clock_offset_s=int(doc.get("clock_offset_s", 0)),
        backup=backup,
        selinux_hidden=frozenset(doc.get("selinux_hidden") or ()),
    )


def _safe_member(name: str) -> str:
    norm = posixpath.normpath(name.replace("\\", "/"))
    if name.startswith("/") or norm == ".." or norm.startswith("../") or "\0" in name:
        raise ImageError(f"unsafe archive member {name!r}")
    return norm


def _extract(archive: Path, into: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                name = _safe_member(info.filename)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise ImageError(f"{archive}: symlink member {info.filename!r} refused")
                target = into / name
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        return
    try:
        tf = tarfile.open(archive, "r:*")
    except tarfile.TarError as exc:
        raise ImageError(f"{archive}: not a folder, tar or zip image ({exc})") from exc
    with tf:
        for member in tf:
            name = _safe_member(member.name)
            if not (member.isfile() or member.isdir()):
                raise ImageError(f"{archive}: member {member.name!r} is not a file or folder")
            target = into / name
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            extracted = tf.extractfile(member)
            if extracted is None:  # pragma: no cover - isfile() guarantees a stream
                continue
            with extracted, open(target, "wb") as dst:
                shutil.copyfileobj(extracted, dst, 1 << 20)
            os.utime(target, (member.mtime, member.mtime))


class DeviceImage:
    """Maps device paths onto the image and says what each user may read."""

    def __init__(self, image: Path | str) -> None:
        path = Path(image)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if path.is_dir():
            self.root = path.resolve()
        elif path.is_file():
            self._tmp = tempfile.TemporaryDirectory(prefix="vmf-adb-image-")
            try:
                _extract(path, Path(self._tmp.name))
            except BaseException:
                self._tmp.cleanup()
                raise
            self.root = Path(self._tmp.name).resolve()
            # an archive holding a single top folder that is the image
            children = [c for c in self.root.iterdir()]
            if len(children) == 1 and children[0].is_dir() and not (self.root / "data").exists():
                inner = children[0]
                if (
                    (inner / "data").exists()
                    or (inner / "sdcard").exists()
                    or (inner / DEVICE_JSON).exists()
                ):
                    self.root = inner.resolve()
        else:
            raise ImageError(f"{image}: no such image")
        self.facts = _load_facts(self.root)

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- paths -------------------------------------------------------------------------

    def shared_dir(self) -> Path | None:
        for rel in ("sdcard", "storage/emulated/0"):
            candidate = self.root / rel
            if candidate.is_dir():
                return candidate
        return None

    def host_path(self, device_path: str) -> Path | None:
        """The image file behind a device path, or None when it is outside the image."""
        norm = posixpath.normpath("/" + device_path.lstrip("/"))
        if norm == "/" + DEVICE_JSON:
            return None
        for shared in _SHARED_ROOTS:
            if norm == shared or norm.startswith(shared + "/"):
                base = self.shared_dir()
                if base is None:
                    return None
                rest = norm[len(shared) :].lstrip("/")
                return self._inside(base / rest if rest else base)
        if norm == "/data/user/0" or norm.startswith("/data/user/0/"):
            norm = "/data/data" + norm[len("/data/user/0") :]
        return self._inside(self.root / norm.lstrip("/") if norm != "/" else self.root)

    def _inside(self, candidate: Path) -> Path | None:
        real = Path(os.path.realpath(candidate))
        if real != self.root and self.root not in real.parents:
            return None
        return candidate

    @staticmethod
    def normalise(device_path: str, cwd: str = "/") -> str:
        if not device_path.startswith("/"):
            device_path = posixpath.join(cwd, device_path)
        return posixpath.normpath(device_path) if device_path != "/" else "/"

    def readable(self, device_path: str, uid: int, app: str | None = None) -> bool:
        """Whether ``uid`` may read ``device_path``: root anything, an app its own sandbox."""
        if uid == 0:
            return True
        norm = self.normalise(device_path)
        if norm.startswith("/data/user/0/"):
            norm = "/data/data/" + norm[len("/data/user/0/") :]
        if app is not None:
            for own in (f"/data/data/{app}", f"/data/user_de/0/{app}"):
                if norm == own or norm.startswith(own + "/"):
                    return True
        return not any(norm == p or norm.startswith(p + "/") for p in _PRIVATE_PREFIXES)

    def packages(self) -> list[str]:
        names = set(self.facts.extra_packages)
        data = self.root / "data" / "data"
        if data.is_dir():
            names.update(p.name for p in data.iterdir() if p.is_dir())
        return sorted(names)

    def app_dir(self, package: str) -> Path | None:
        candidate = self.root / "data" / "data" / package
        return candidate if candidate.is_dir() and self._inside(candidate) else None
