"""Acquiring an Android phone or Wear OS watch over ADB, as a :class:`Source`.

Strategies run in order of completeness and each takes what the previous ones could not:
root (``su``) tar of the app folders, ``run-as`` for debuggable apps, ``adb backup`` for the
rest, then shared storage over sync and the voicemail/call-log providers. Every command goes
through :mod:`session`, which reports it before sending. Bytes are spooled under the
``workdir`` the caller gives (inside the case's scratch folder) and entries open the spool,
so a dropped cable leaves everything received readable and the source marked incomplete.
"""

from __future__ import annotations

import io
import os
import re
import stat
import tarfile
import time
from collections.abc import Callable, Generator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from acquisition.android_backup import decrypted_tar_stream
from acquisition.android_device.connect import open_tcp, open_usb, parse_hostport, server_holds
from acquisition.android_device.layout import backup_member_to_logical, device_to_logical
from acquisition.android_device.session import (
    AdbServerSession,
    CommandFailed,
    DeviceGone,
    Session,
)
from acquisition.base import Entry, EntryKind, Problem, Source
from acquisition.errors import (
    AcquisitionError,
    EntryReadError,
    NotRecognised,
    PasswordRequired,
    SourceUnavailable,
    WrongPassword,
)
from acquisition.paths import join, sanitise

VOICEMAIL_PACKAGES = (
    "com.android.providers.contacts",
    "com.samsung.android.providers.contacts",
    "com.google.android.dialer",
    "com.android.dialer",
    "com.samsung.vvm",
    "com.att.mobile.android.vvm",
    "com.tmobile.vvm.application",
    "com.vzw.visualvoicemail",
    "com.google.android.apps.googlevoice",
)
PROFILES = ("voicemail", "full")
# backup agents worth asking for whenever adb backup runs: the call log's key-value agent
# carries the call history (voicemail entries included) on phones where nothing else does
BACKUP_EXTRAS = ("com.android.calllogbackup",)
SHARED_ROOT = "/sdcard"
DE_ROOT = "data/user_de/0"  # device-protected app storage (direct boot), logical path
DE_DEVICE = "/" + DE_ROOT
CONTENT_QUERIES = (
    ("content://com.android.voicemail/voicemail", "content-query/voicemail.txt"),
    ("content://call_log/calls", "content-query/call_log-calls.txt"),
)
# the voicemail profile leaves photos and videos on the phone (counted, reported)
_MEDIA_SKIP = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".heic", ".heif", ".webp", ".dng", ".bmp"}
    | {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v"}
)
_MAX_ENTRIES = 500_000
_PACKAGE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+")
_MAX_DEPTH = 64
_TEXT_PEEK = 400

BACKUP_PROMPT = (
    "adb backup: unlock the phone and tap 'Back up my data' on its screen. If you type a "
    "backup password there, give vmforensics the same password (--password-file, "
    "VMF_PASSWORD or the prompt) so the backup can be opened; leave it empty otherwise."
)

ROOT_PROMPT = (
    "Checking for root (su). If the phone asks whether to grant superuser access to "
    "'Shell', allowing it gives the most complete acquisition; denying it is recorded and "
    "the next strategy is used."
)

ProgressHook = Callable[[str, int, int | None], None]


MAX_LISTED = 2_000_000  # a hostile device cannot fill memory with a listing
MAX_REPORTED_MISSING = 200


def _noop(*_args: object) -> None:
    return None


def _posix_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_getprop(text: str) -> dict[str, str]:
    props = {}
    for line in text.splitlines():
        if line.startswith("[") and "]: [" in line and line.endswith("]"):
            key, _, value = line[1:-1].partition("]: [")
            props[key] = value
    return props


class _Slice(io.RawIOBase):
    """Read-only window on a spool file, for members whose transfer was cut short."""

    def __init__(self, path: Path, start: int, end: int) -> None:
        self._fh = open(path, "rb")
        self._fh.seek(start)
        self._left = max(0, end - start)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._left)
        if n <= 0:
            return 0
        data = self._fh.read(n)
        buffer[: len(data)] = data
        self._left -= len(data)
        return len(data)

    def close(self) -> None:
        self._fh.close()
        super().close()


def _printable(name: str) -> str:
    """A device name for records: bytes that are not UTF-8 shown as \\xNN escapes."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _window(path: Path, start: int, end: int) -> Callable[[], BinaryIO]:
    """An opener for bytes [start, end) of a spool file."""

    def opener() -> BinaryIO:
        return io.BufferedReader(_Slice(path, start, end))

    return opener


def _create(path: Path) -> BinaryIO:
    """A new spool file readable by the examiner's account only (0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    return os.fdopen(fd, "wb")


def _whole(path: Path) -> Callable[[], BinaryIO]:
    def opener() -> BinaryIO:
        return open(path, "rb")

    return opener


def _app_paths(
    pkg: str, logical_root: str = "data/data", device_root: str = "/data/user/0"
) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """Logical and device names for members of a tar made inside the app's folder."""

    def logical(name: str) -> str:
        return join(logical_root, pkg, name)

    def device(name: str) -> str:
        return f"{device_root}/{pkg}/{name}".rstrip("/")

    return logical, device


class AndroidDeviceSource(Source):
    """``spec`` is ``HOST:PORT`` (ADB over TCP), a USB serial (``usb:SERIAL`` forces
    USB), or ``adb:SERIAL`` to go through a running system adb server."""

    kind = "android-device"

    def __init__(
        self,
        spec: str,
        *,
        workdir: Path,
        key_dir: Path,
        profile: str = "voicemail",
        password: str | None = None,
        on_command: Callable[[str], None] = _noop,
        on_progress: ProgressHook = _noop,
        on_prompt: Callable[[str], None] = _noop,
    ) -> None:
        super().__init__(spec)
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})")
        self.spec = spec
        self.workdir = Path(workdir)
        self.key_dir = Path(key_dir)
        self.profile = profile
        self._password = password
        self.on_command = on_command
        self.on_progress = on_progress
        self.on_prompt = on_prompt
        self.complete = True
        self.session: Session | None = None
        self._description: dict[str, Any] = {}
        self._tars: list[tarfile.TarFile] = []
        self._spooled = 0
        self._received_files = 0
        self._received_bytes = 0
        self.strategies: dict[str, str] = {}
        self._tar_files: set[str] = set()  # device paths of files received in tar streams
        self.interruption: str | None = None
        self._targets: list[str] = []

    # -- open / describe -------------------------------------------------------------

    def open(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self.session = self._connect()
        except DeviceGone as exc:
            raise SourceUnavailable(f"{self.spec}: {exc}") from exc
        except OSError as exc:
            raise SourceUnavailable(f"{self.spec}: cannot prepare the connection: {exc}") from exc
        try:
            self._describe_device()
        except DeviceGone as exc:
            self.close()
            raise SourceUnavailable(f"{self.spec}: the device went away: {exc}") from exc
        except CommandFailed as exc:
            self.close()
            raise SourceUnavailable(f"{self.spec}: the device answered nonsense: {exc}") from exc

    def _connect(self) -> Session:
        target = parse_hostport(self.spec)
        if self.spec.startswith("adb:"):
            # through the system adb server, for a device it already holds
            serial = self.spec[4:]
            if not server_holds(serial):
                raise SourceUnavailable(f"{serial}: no running adb server lists this device")
            return AdbServerSession(serial, self.on_command)
        if self.spec.startswith("usb:"):
            return open_usb(
                self.spec[4:],
                key_dir=self.key_dir,
                on_command=self.on_command,
                on_prompt=self.on_prompt,
            )
        if target is not None:
            return open_tcp(
                *target,
                key_dir=self.key_dir,
                on_command=self.on_command,
                on_prompt=self.on_prompt,
            )
        return open_usb(
            self.spec, key_dir=self.key_dir, on_command=self.on_command, on_prompt=self.on_prompt
        )

    def _describe_device(self) -> None:
        assert self.session is not None
        props = _parse_getprop(self.session.shell("getprop"))
        before = time.time()
        raw_clock = self.session.shell("date +%s").strip()
        after = time.time()
        host = (before + after) / 2
        try:
            device_clock: int | None = int(raw_clock)
        except ValueError:
            device_clock = None
        chars = props.get("ro.build.characteristics", "")
        self._description = {
            "kind": self.kind,
            "spec": self.spec,
            "transport": self.session.transport,
            "serial": props.get("ro.serialno") or props.get("ro.boot.serialno") or self.spec,
            "model": props.get("ro.product.model"),
            "manufacturer": props.get("ro.product.manufacturer"),
            "android_version": props.get("ro.build.version.release"),
            "sdk": props.get("ro.build.version.sdk"),
            "build_fingerprint": props.get("ro.build.fingerprint"),
            "build_type": props.get("ro.build.type"),
            "wear_os": "watch" in chars.split(","),
            "device_clock_raw": raw_clock,
            "device_clock_utc": _posix_time(device_clock) if device_clock is not None else None,
            "host_clock_utc": _posix_time(host),
            # date +%s truncates: add half a second so the estimate is unbiased
            "clock_offset_s": (
                round(device_clock + 0.5 - host) if device_clock is not None else None
            ),
            "profile": self.profile,
            "password_provided": self._password is not None,
        }

    def describe(self) -> dict[str, Any]:
        return {
            **self._description,
            "complete": self.complete,
            "interruption": self.interruption,
            "received_files": self._received_files,
            "received_bytes": self._received_bytes,
            "target_packages": list(self._targets),
            "strategies": dict(self.strategies),
        }

    def close(self) -> None:
        for tf in self._tars:
            try:
                tf.close()
            except Exception:
                pass
        self._tars.clear()
        if self.session is not None:
            self.session.close()
            self.session = None

    # -- entries ---------------------------------------------------------------------

    def entries(self) -> Iterator[Entry | Problem]:
        if self.session is None:
            raise AcquisitionError("open() the source before listing it")
        steps: list[tuple[str, Callable[[], Iterator[Entry | Problem]]]] = []
        state: dict[str, Any] = {}
        steps.append(("package list", lambda: self._packages(state)))
        steps.append(("root", lambda: self._root(state)))
        steps.append(("run-as", lambda: self._run_as(state)))
        steps.append(("adb backup", lambda: self._backup(state)))
        steps.append(("apps not acquired", lambda: self._leftovers(state)))
        steps.append(("shared storage", self._shared))
        steps.append(("content query", self._content))
        for i, (name, step) in enumerate(steps):
            try:
                yield from step()
            except CommandFailed as exc:
                self.strategies[name] = f"failed: {exc}"
                yield Problem("", "acquire", f"{name}: the device's answer was refused: {exc}")
            except DeviceGone as exc:
                self.complete = False
                self.strategies[name] = "interrupted"
                left = [n for n, _ in steps[i + 1 :] if n != "apps not acquired"]
                self.interruption = (
                    f"connection to the device was lost during {name}: {exc}. The acquisition "
                    f"is INCOMPLETE: {self._received_files} files ({self._received_bytes} "
                    "bytes) were received and kept; not attempted: "
                    f"{', '.join(left) if left else 'nothing'}."
                )
                yield Problem("", "acquire", self.interruption)
                return

    # -- strategies --------------------------------------------------------------------

    def _packages(self, state: dict[str, Any]) -> Iterator[Entry | Problem]:
        assert self.session is not None
        out = self.session.shell("pm list packages")
        listed = [
            line[len("package:") :].strip()
            for line in out.splitlines()
            if line.startswith("package:")
        ]
        installed = sorted({p for p in listed if _PACKAGE_NAME.fullmatch(p)})
        odd = sorted({p for p in listed if not _PACKAGE_NAME.fullmatch(p)})
        if odd:
            # never splice a name we cannot vouch for into a device command
            yield Problem(
                "", "acquire", f"package names not used in commands: {', '.join(map(repr, odd))}"
            )
        if self.profile == "voicemail":
            wanted = [p for p in VOICEMAIL_PACKAGES if p in installed]
        else:
            wanted = installed
        state["wanted"] = wanted
        state["installed"] = installed
        state["remaining"] = list(wanted)
        state["why"] = {}
        self._targets = list(wanted)
        self.strategies["package list"] = f"{len(installed)} installed, {len(wanted)} targeted"

    def _root_prefix(self) -> str | None:
        assert self.session is not None
        self.on_prompt(ROOT_PROMPT)
        for prefix in ("su -c", "su 0"):
            answer = self.session.shell(f"{prefix} id")
            if "uid=0(" in answer:
                return prefix
        return None

    def _root(self, state: dict[str, Any]) -> Iterator[Entry | Problem]:
        if not state["remaining"]:
            return
        prefix = self._root_prefix()
        if prefix is None:
            self.strategies["root"] = "unavailable (no working su)"
            for pkg in state["remaining"]:
                state["why"][pkg] = ["root: no working su"]
            return
        got = 0
        for pkg in list(state["remaining"]):
            inner = f"tar -cf - -C /data/data {pkg}"
            command = f"su -c '{inner}'" if prefix == "su -c" else f"su 0 {inner}"
            ok = yield from self._tar_strategy(
                command,
                f"root-{pkg}",
                lambda name: join("data/data", name),
                lambda name: "/data/data/" + name,
                state,
                pkg,
                "root",
            )
            if ok:
                state["remaining"].remove(pkg)
                got += 1
                yield from self._check_listing(prefix, f"/data/data/{pkg}", pkg)
                inner = f"tar -cf - -C {DE_DEVICE} {pkg}"
                yield from self._device_protected(
                    f"su -c '{inner}'" if prefix == "su -c" else f"su 0 {inner}",
                    f"root-de-{pkg}",
                    lambda name: join(DE_ROOT, name),
                    lambda name: f"{DE_DEVICE}/{name}",
                    pkg,
                    "root",
                )
        self.strategies["root"] = f"{prefix}: {got} app folders"

    def _check_listing(self, prefix: str, folder: str, pkg: str) -> Iterator[Problem]:
        """Compare the tar with ``find``: SELinux denials can keep files out of a root tar
        without a word, so a file the device lists but the stream lacks is reported."""
        assert self.session is not None
        inner = f"find {folder} -type f"
        command = f"su -c '{inner}'" if prefix == "su -c" else f"su 0 {inner}"
        listed: set[str] = set()
        pending = b""
        try:
            for chunk in self.session.exec_stream(command):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                listed.update(x.decode("utf-8", "surrogateescape") for x in lines)
                if len(listed) > MAX_LISTED:
                    break
        except (DeviceGone, CommandFailed) as exc:
            yield Problem(
                join("data/data", pkg),
                "acquire",
                f"root: could not list {folder} to check the tar ({exc})",
            )
            return
        listed.update([pending.decode("utf-8", "surrogateescape")] if pending else [])
        listed = {p for p in listed if p.startswith(folder + "/")}
        missing = sorted(listed - self._tar_files)
        for path in missing[:MAX_REPORTED_MISSING]:
            yield Problem(
                device_to_logical(path),
                "acquire",
                "listed on the device by find but absent from the root tar stream "
                "(an SELinux denial or a read error kept it out): not acquired",
                origin=path,
            )
        if len(missing) > MAX_REPORTED_MISSING:
            yield Problem(
                join("data/data", pkg),
                "acquire",
                f"{len(missing) - MAX_REPORTED_MISSING} more files listed by find "
                "are absent from the root tar stream",
            )
        note = f"{len(listed)} files listed, {len(missing)} missing from the tar"
        self.strategies[f"root listing {pkg}"] = note

    def _run_as(self, state: dict[str, Any]) -> Iterator[Entry | Problem]:
        if not state["remaining"]:
            return
        got = 0
        for pkg in list(state["remaining"]):
            ok = yield from self._tar_strategy(
                f"run-as {pkg} tar -cf - .",
                f"run-as-{pkg}",
                *_app_paths(pkg),
                state,
                pkg,
                "run-as",
            )
            if ok:
                state["remaining"].remove(pkg)
                got += 1
                yield from self._device_protected(
                    f"run-as {pkg} tar -cf - -C {DE_DEVICE}/{pkg} .",
                    f"run-as-de-{pkg}",
                    *_app_paths(pkg, DE_ROOT, DE_DEVICE),
                    pkg,
                    "run-as",
                )
        self.strategies["run-as"] = f"{got} debuggable apps"

    def _device_protected(
        self,
        command: str,
        label: str,
        to_logical: Callable[[str], str],
        to_device: Callable[[str], str],
        pkg: str,
        strategy: str,
    ) -> Iterator[Entry | Problem]:
        """The app's device-encrypted folder (direct-boot data such as calllog_shadow.db).

        Many apps have none; a missing folder is normal and not reported.
        """
        scratch: dict[str, Any] = {"why": {}}
        ok = yield from self._tar_strategy(
            command, label, to_logical, to_device, scratch, pkg, f"{strategy} (device-protected)"
        )
        notes = scratch["why"].get(pkg, [])
        if not ok and notes and not all("No such file" in n for n in notes):
            yield Problem(join(DE_ROOT, pkg), "acquire", "; ".join(notes))

    def _tar_strategy(
        self,
        command: str,
        label: str,
        to_logical: Callable[[str], str],
        to_device: Callable[[str], str],
        state: dict[str, Any],
        pkg: str,
        strategy: str,
    ) -> Generator[Entry | Problem, None, bool]:
        """Stream ``command``'s tar to a spool and list it; False when no tar came back."""
        assert self.session is not None
        spool = self._spool_path(label + ".tar")
        received = 0
        gone: DeviceGone | None = None
        with _create(spool) as out:
            try:
                for chunk in self.session.exec_stream(command):
                    out.write(chunk)
                    received += len(chunk)
                    self.on_progress(f"{strategy} {pkg}", received, None)
            except DeviceGone as exc:
                gone = exc
            except CommandFailed as exc:
                state["why"].setdefault(pkg, []).append(f"{strategy}: {exc}")
                return False
        if received == 0 and gone is None:
            state["why"].setdefault(pkg, []).append(f"{strategy}: no output")
            return False
        if not self._looks_like_tar(spool):
            text = spool.read_bytes()[:_TEXT_PEEK].decode("utf-8", "replace").strip()
            if gone is not None:
                raise gone
            state["why"].setdefault(pkg, []).append(f"{strategy}: {text}")
            return False
        yield from self._list_tar(spool, to_logical, to_device, f"{strategy} tar", gone)
        if gone is not None:
            raise gone
        return True

    @staticmethod
    def _looks_like_tar(spool: Path) -> bool:
        with open(spool, "rb") as fh:
            head = fh.read(512)
        if len(head) < 512:
            return False
        try:
            tarfile.TarInfo.frombuf(head, "utf-8", "surrogateescape")
        except tarfile.HeaderError:
            return False
        return True

    def _list_tar(
        self,
        spool: Path,
        to_logical: Callable[[str], str],
        to_device: Callable[[str], str],
        how: str,
        gone: DeviceGone | None,
    ) -> Iterator[Entry | Problem]:
        size = spool.stat().st_size
        try:
            tf = tarfile.open(spool, "r:")
        except (tarfile.TarError, OSError) as exc:
            yield Problem("", "acquire", f"{how}: unreadable tar stream ({exc})")
            return
        self._tars.append(tf)
        while True:
            try:
                member = tf.next()
            except (tarfile.TarError, EOFError, OSError) as exc:
                yield Problem(
                    "", "acquire", f"{how}: tar stream ends early ({exc})", offset=tf.offset
                )
                return
            if member is None:
                return
            safe = sanitise(member.name)
            if safe.issues:
                yield Problem(
                    safe.path,
                    "acquire",
                    f"{how}: member name {member.name!r}: " + ", ".join(safe.issues),
                )
            if not safe.path:
                continue
            logical = to_logical(safe.path)
            origin = to_device(safe.path)
            times = {"mtime": float(member.mtime)}
            if member.isdir():
                yield Entry(logical, EntryKind.DIR, None, times, member.mode, origin)
                continue
            if member.issym():
                yield Entry(
                    logical,
                    EntryKind.SYMLINK,
                    None,
                    times,
                    member.mode,
                    origin,
                    link_target=member.linkname,
                )
                continue
            if not member.isfile():
                yield Entry(logical, EntryKind.OTHER, None, times, member.mode, origin)
                continue
            self._tar_files.add(origin)
            start, end = member.offset_data, member.offset_data + member.size
            if end > size:
                got = max(0, size - start)
                yield Entry(
                    logical,
                    EntryKind.FILE,
                    got,
                    times,
                    member.mode,
                    origin,
                    meta={"incomplete": True, "expected_size": member.size, "via": how},
                    opener=_window(spool, start, size),
                )
                self._count(got)
                yield Problem(
                    logical,
                    "acquire",
                    (
                        f"incomplete: connection lost after {got} of {member.size} bytes of "
                        "this file; the received part is kept"
                    )
                    if gone is not None
                    else (
                        f"truncated: the device's tar stream ended after {got} of "
                        f"{member.size} bytes of this file; the received part is kept"
                    ),
                    origin=origin,
                )
                return
            self._count(member.size)
            yield Entry(
                logical,
                EntryKind.FILE,
                member.size,
                times,
                member.mode,
                origin,
                meta={"via": how},
                opener=_window(spool, start, end),
            )

    def _backup(self, state: dict[str, Any]) -> Iterator[Entry | Problem]:
        assert self.session is not None
        if not state["remaining"]:
            return
        self.on_prompt(BACKUP_PROMPT)
        extras = [
            p for p in BACKUP_EXTRAS if p in state["installed"] and p not in state["remaining"]
        ]
        args = ["-noapk", "-keyvalue", *state["remaining"], *extras]
        spool = self._spool_path("backup.ab")
        received = 0
        gone: DeviceGone | None = None
        with _create(spool) as out:
            try:
                for chunk in self.session.backup_stream(args):
                    out.write(chunk)
                    received += len(chunk)
                    self.on_progress("adb backup", received, None)
            except DeviceGone as exc:
                gone = exc
            except CommandFailed as exc:
                self.strategies["adb backup"] = f"failed: {exc}"
                return
        if received == 0:
            if gone is not None:
                raise gone
            self.strategies["adb backup"] = "nothing received (not confirmed on the phone?)"
            for pkg in state["remaining"]:
                state["why"].setdefault(pkg, []).append(
                    "adb backup: no data (the backup was not confirmed on the phone)"
                )
            return
        self._count(received)
        with open(spool, "rb") as fh:
            encrypted = b"AES-256" in fh.read(64)
        yield Entry(
            "adb-backup/backup.ab",
            EntryKind.FILE,
            received,
            {},
            0o400,
            origin="backup: " + " ".join(args),
            meta={
                "container": "android-backup",
                "encrypted": encrypted,
                "incomplete": gone is not None,
            },
            opener=_whole(spool),
        )
        if gone is not None:
            yield Problem(
                "adb-backup/backup.ab",
                "acquire",
                f"incomplete: connection lost after {received} bytes of the backup; "
                "the received part is kept",
            )
        tar_spool = self._spool_path("backup.tar")
        try:
            with open(spool, "rb") as src, _create(tar_spool) as dst:
                payload = decrypted_tar_stream(src, self._password)
                try:
                    # read1: at most one raw read per call, so a truncated payload
                    # hands over every good byte before the error
                    while chunk := payload.read1(1 << 16):  # type: ignore[attr-defined]
                        dst.write(chunk)
                except EntryReadError as exc:
                    yield Problem(
                        "adb-backup/backup.ab",
                        "acquire",
                        f"the backup's payload ends early: {exc}",
                        offset=exc.offset,
                    )
        except PasswordRequired:
            self.strategies["adb backup"] = "encrypted on the phone; no password given"
            yield Problem(
                "adb-backup/backup.ab",
                "decrypt",
                "the backup is encrypted (a password was typed on the phone); the "
                ".ab is kept but its content needs the password",
            )
            state["remaining"] = []
            if gone is not None:
                raise gone
            return
        except WrongPassword:
            self.strategies["adb backup"] = "encrypted on the phone; wrong password"
            yield Problem(
                "adb-backup/backup.ab",
                "decrypt",
                "wrong password for the encrypted backup; the .ab is kept",
            )
            state["remaining"] = []
            if gone is not None:
                raise gone
            return
        except NotRecognised as exc:
            self.strategies["adb backup"] = f"unreadable: {exc}"
            yield Problem("adb-backup/backup.ab", "acquire", f"not an Android backup: {exc}")
            if gone is not None:
                raise gone
            return
        seen: set[str] = set()
        if tar_spool.stat().st_size >= 512:
            for item in self._list_tar(
                tar_spool,
                backup_member_to_logical,
                lambda name: "backup.ab:" + name,
                "adb backup",
                gone,
            ):
                if isinstance(item, Entry):
                    parts = (item.origin or "").split("/")
                    if len(parts) > 1 and parts[0] == "backup.ab:apps":
                        seen.add(parts[1])
                yield item
        got = [p for p in state["remaining"] if p in seen]
        for pkg in state["remaining"]:
            if pkg not in seen:
                state["why"].setdefault(pkg, []).append(
                    "adb backup: the app's backup agent gave no data"
                )
        state["remaining"] = [p for p in state["remaining"] if p not in seen]
        enc = "encrypted, " if encrypted else ""
        self.strategies["adb backup"] = f"{enc}{len(got)} apps"
        if gone is not None:
            raise gone

    def _leftovers(self, state: dict[str, Any]) -> Iterator[Entry | Problem]:
        for pkg in state.get("remaining", []):
            why = "; ".join(state["why"].get(pkg, [])) or "no strategy applied"
            yield Problem(join("data/data", pkg), "acquire", f"app data not acquired: {why}")

    def _shared(self) -> Iterator[Entry | Problem]:
        assert self.session is not None
        pending: list[tuple[str, int]] = [(SHARED_ROOT, 0)]
        listed = files = skipped = 0
        while pending:
            directory, depth = pending.pop(0)
            try:
                children = self.session.list(directory)
            except CommandFailed as exc:
                yield Problem(device_to_logical(directory), "acquire", f"cannot list: {exc}")
                continue
            real = [c for c in children if c.name not in (".", "..")]
            if directory == SHARED_ROOT and not children:
                yield Problem(
                    "sdcard",
                    "acquire",
                    "shared storage could not be listed (missing or not readable)",
                )
            for child in sorted(real, key=lambda c: c.name):
                listed += 1
                if listed > _MAX_ENTRIES:
                    yield Problem(
                        "sdcard",
                        "acquire",
                        f"stopped after {_MAX_ENTRIES} entries in shared storage",
                    )
                    return
                if "/" in child.name or child.name in ("", ".", ".."):
                    yield Problem(
                        device_to_logical(directory),
                        "acquire",
                        f"device listed a hostile name {child.name!r}; skipped",
                    )
                    continue
                device_path = directory.rstrip("/") + "/" + child.name
                origin = _printable(device_path)
                safe = sanitise(device_to_logical(device_path))
                logical = safe.path
                if safe.issues:
                    yield Problem(logical, "acquire", f"device name: {', '.join(safe.issues)}")
                times = {"mtime": float(child.mtime)}
                if stat.S_ISDIR(child.mode):
                    yield Entry(
                        logical, EntryKind.DIR, None, times, stat.S_IMODE(child.mode), origin
                    )
                    if depth + 1 >= _MAX_DEPTH:
                        yield Problem(logical, "acquire", "folder nesting too deep; not entered")
                    else:
                        pending.append((device_path, depth + 1))
                elif stat.S_ISLNK(child.mode):
                    yield Entry(
                        logical,
                        EntryKind.SYMLINK,
                        None,
                        times,
                        stat.S_IMODE(child.mode),
                        origin,
                    )
                elif stat.S_ISREG(child.mode):
                    if self.profile == "voicemail" and os.path.splitext(child.name)[1].lower() in (
                        _MEDIA_SKIP
                    ):
                        skipped += 1
                        continue
                    files += 1
                    yield from self._pull(
                        device_path, logical, child.size, times, stat.S_IMODE(child.mode)
                    )
                else:
                    yield Entry(
                        logical, EntryKind.OTHER, None, times, stat.S_IMODE(child.mode), origin
                    )
        if skipped:
            yield Problem(
                "sdcard",
                "acquire",
                f"profile 'voicemail' left {skipped} photo/video files on the phone",
            )
        self.strategies["shared storage"] = f"{files} files"

    def _pull(
        self, device_path: str, logical: str, listed_size: int, times: dict[str, float], mode: int
    ) -> Iterator[Entry | Problem]:
        assert self.session is not None
        origin = _printable(device_path)
        dest = self._spool_path("pull")
        _create(dest).close()  # owner-only before the client writes into it
        try:
            got = self.session.pull(
                device_path, dest, lambda n: self.on_progress(logical, n, listed_size)
            )
        except CommandFailed as exc:
            yield Problem(logical, "acquire", f"not acquired: {exc}", origin=origin)
            return
        except DeviceGone:
            got = dest.stat().st_size if dest.exists() else 0
            self._count(got)
            yield Entry(
                logical,
                EntryKind.FILE,
                got,
                times,
                mode,
                origin,
                meta={"incomplete": True, "expected_size": listed_size, "via": "sync"},
                opener=_whole(dest),
            )
            yield Problem(
                logical,
                "acquire",
                f"incomplete: connection lost after {got} of {listed_size} bytes of this file; "
                "the received part is kept",
                origin=origin,
            )
            raise
        self._count(got)
        yield Entry(
            logical,
            EntryKind.FILE,
            got,
            times,
            mode,
            origin,
            meta={"via": "sync"},
            opener=_whole(dest),
        )

    def _content(self) -> Iterator[Entry | Problem]:
        assert self.session is not None
        answered = 0
        for uri, logical in CONTENT_QUERIES:
            command = f"content query --uri {uri}"
            text = self.session.shell(command)
            if "Exception" in text or text.startswith("Error while accessing provider"):
                first = " ".join(text.strip().splitlines()[:2])[:_TEXT_PEEK]
                yield Problem(
                    logical, "acquire", f"{uri}: the provider refused: {first}", origin=command
                )
                continue
            data = text.encode("utf-8")
            dest = self._spool_path("content")
            with _create(dest) as out:
                out.write(data)
            self._count(len(data))
            answered += 1
            yield Entry(
                logical,
                EntryKind.FILE,
                len(data),
                {},
                0o400,
                origin=command,
                meta={"via": "content query", "uri": uri},
                opener=_whole(dest),
            )
        self.strategies["content query"] = f"{answered} of {len(CONTENT_QUERIES)} providers"

    # -- helpers -----------------------------------------------------------------------

    def _spool_path(self, label: str) -> Path:
        self._spooled += 1
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in label)[:80]
        return self.workdir / f"{self._spooled:06d}-{safe}"

    def _count(self, n: int) -> None:
        self._received_files += 1
        self._received_bytes += n
