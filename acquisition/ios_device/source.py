"""A connected iPhone as a source: backup, media, app containers, crash reports.

Order of completeness: the full backup through mobilebackup2 comes first (it is the only
route to third-party app sandboxes without a jailbreak, and holds the OS voicemail store);
then AFC media, house_arrest containers (best effort: iOS vends them only for
developer-signed apps or, Documents only, apps with file sharing) and crash reports.

Everything is first copied into a fresh folder under the caller's ``workdir`` and then
listed from there, so entries stay readable after the phone is gone. A phone that
disappears mid-transfer leaves ``complete`` False and ``Problem(stage="acquire")`` values
that say what arrived and what did not; every received byte is still listed.

Only reading calls are reachable from this package: no erase, restore, password change,
crash-report clearing or AFC write (``tests/acquisition/ios_device`` checks the source and
a full run against the virtual device).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pymobiledevice3.exceptions import (
    AppNotInstalledError,
    ConnectionTerminatedError,
    PasswordRequiredError,
    PyMobileDevice3Exception,
)
from pymobiledevice3.services.afc import AfcService
from pymobiledevice3.services.crash_reports import CrashReportsManager
from pymobiledevice3.services.house_arrest import HouseArrestService
from pymobiledevice3.services.installation_proxy import InstallationProxyService

from acquisition.base import Entry, EntryKind, Problem, Source
from acquisition.errors import AcquisitionError, PasswordRequired, SourceUnavailable
from acquisition.paths import sanitise

from .backup import HOST_WRITTEN, BackupOutcome, describe_interruption, run_backup
from .devices import describe
from .pull import GONE, AfcCopier, Pulled, PullResult
from .session import DEFAULT_PAIR_TIMEOUT, LoopThread, connect

PROFILES = ("voicemail", "full")
# Media files worth pulling for the voicemail profile: audio, and anything in Recordings.
AUDIO_SUFFIXES = (
    ".amr", ".awb", ".m4a", ".m4r", ".caf", ".wav", ".mp3", ".aac", ".opus", ".ogg", ".3gp",
    ".3g2", ".qcp", ".flac", ".aif", ".aiff", ".mp4", ".gsm",
)  # fmt: skip
PASSCODE_PROMPT_FROM = (16, 1)

Report = Callable[[str], None]
Progress = Callable[[str, float | None, str], None]


def _noop(*_args: object) -> None:
    return None


class IosDeviceSource(Source):
    """``with IosDeviceSource(udid, workdir=...) as src: src.entries()``.

    Callbacks (all optional, called from a worker thread): ``on_command(text)`` for every
    request sent to the phone; ``on_progress(stage, percent_or_None, detail)`` with stage
    one of backup, afc, containers, crash; ``on_prompt(text)`` for what the user must do on
    the phone (tap Trust, enter the passcode).
    """

    kind: ClassVar[str] = "ios-device"
    sequential: ClassVar[bool] = False

    def __init__(
        self,
        udid: str,
        *,
        workdir: Path,
        profile: str = "voicemail",
        password: str | None = None,
        on_command: Report | None = None,
        on_progress: Progress | None = None,
        on_prompt: Report | None = None,
        pairing_dir: Path | None = None,
        apps: Sequence[str] | None = None,
        usbmux_address: str | None = None,
        pair_record: dict[str, Any] | None = None,
        pair_timeout: float | None = DEFAULT_PAIR_TIMEOUT,
    ) -> None:
        super().__init__(udid)
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})")
        self.udid = udid
        self.workdir = Path(workdir)
        self.profile = profile
        self._password = password
        self.on_command = on_command or _noop
        self.on_progress = on_progress or _noop
        self.on_prompt = on_prompt or _noop
        self.pairing_dir = Path(pairing_dir) if pairing_dir else self.workdir / "pairing"
        self.apps = list(apps) if apps is not None else None
        self.address = usbmux_address
        self.pair_record = pair_record
        self.pair_timeout = pair_timeout
        self.complete: bool | None = None
        self.folder: Path | None = None
        self._loop: LoopThread | None = None
        self._client: Any = None
        self._description: dict[str, Any] = {}
        self._problems: list[Problem] = []
        self._backup: BackupOutcome | None = None
        self._pulled: list[Pulled] = []
        self._acquired = False

    # -- opening ---------------------------------------------------------------------
    def open(self) -> None:
        self._loop = LoopThread()
        try:
            self._client = self._loop.run(
                connect(
                    self.udid,
                    pairing_dir=self.pairing_dir,
                    on_command=self.on_command,
                    on_prompt=self.on_prompt,
                    address=self.address,
                    pair_record=self.pair_record,
                    pair_timeout=self.pair_timeout,
                )
            )
            self._description = self._loop.run(describe(self._client))
        except AcquisitionError:
            self.close()
            raise
        except Exception as exc:  # whatever the phone answered, the user gets a message
            self.close()
            raise SourceUnavailable(f"{self.udid}: {type(exc).__name__}: {exc}") from None
        if self._description.get("will_encrypt") and self._password is None:
            self.close()
            raise PasswordRequired(
                f"{self.udid}: the iPhone encrypts its backups; give the backup password "
                "to read them"
            )

    def close(self) -> None:
        if self._loop is not None:
            if self._client is not None:
                try:
                    self._loop.run(self._client.close(), timeout=30)
                except Exception:  # the phone may be gone; nothing left to release
                    pass
                self._client = None
            self._loop.close()
            self._loop = None

    def describe(self) -> dict[str, Any]:
        out = dict(self._description)
        out.update(
            {
                "kind": self.kind,
                "udid": self._description.get("udid", self.udid),
                "profile": self.profile,
                "password_provided": self._password is not None,
                "complete": self.complete,
            }
        )
        if self._backup is not None:
            out["backup_complete"] = self._backup.complete
        return out

    # -- acquiring -------------------------------------------------------------------
    def acquire(self) -> None:
        """Copy everything off the phone (``entries()`` calls this once when needed)."""
        if self._acquired:
            return
        if self._loop is None or self._client is None:
            raise SourceUnavailable(f"{self.udid}: not open")
        self._acquired = True
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.folder = Path(tempfile.mkdtemp(prefix="ios-device-", dir=self.workdir))
        store = self.folder / "files"
        store.mkdir()
        try:
            self._loop.run(self._acquire(store))
        except Exception as exc:  # never a traceback: what failed is recorded, the rest kept
            self.complete = False
            self._problems.append(
                Problem("", "acquire", f"acquisition stopped: {type(exc).__name__}: {exc}")
            )

    async def _acquire(self, store: Path) -> None:
        assert self.folder is not None
        counter = [0]
        gone = False
        version = _version(self._description.get("product_version"))
        if version >= PASSCODE_PROMPT_FROM:
            self.on_prompt(
                "The iPhone may ask for its passcode to allow the backup (iOS 16.1 and later): "
                "unlock it and enter the passcode when asked."
            )
        self._backup = await run_backup(
            self._client,
            self.folder / "backup",
            on_command=self.on_command,
            on_progress=self.on_progress,
        )
        if not self._backup.complete:
            self._problems.append(Problem("", "acquire", describe_interruption(self._backup)))
            gone = _is_gone_message(self._backup.error)
        stages = (
            ("afc", self._pull_media),
            ("containers", self._pull_containers),
            ("crash", self._pull_crash),
        )
        for stage, step in stages:
            if gone:
                self._problems.append(
                    Problem(stage, "acquire", "not acquired: the device disconnected earlier")
                )
                continue
            try:
                result = await step(store, counter)
            except GONE:
                result = PullResult(gone=True)
            except PasswordRequiredError:
                self._problems.append(
                    Problem(stage, "acquire", "not acquired: the iPhone is locked; unlock it")
                )
                continue
            except Exception as exc:  # a broken reply from the phone stops this stage only
                self._problems.append(
                    Problem(stage, "acquire", f"not acquired: {type(exc).__name__}: {exc}")
                )
                continue
            self._collect(result)
            if result.gone:
                gone = True
                self._problems.append(
                    Problem(stage, "acquire", f"the device disconnected during the {stage} copy")
                )
        self.complete = self._backup.complete and not gone

    def _collect(self, result: PullResult) -> None:
        self._pulled.extend(result.items)
        for path, message in result.problems:
            self._problems.append(Problem(path, "acquire", message))

    def _want_media(self, path: str) -> bool:
        if self.profile == "full":
            return True
        lower = path.lower()
        return lower.startswith("/recordings/") or lower.endswith(AUDIO_SUFFIXES)

    async def _pull_media(self, store: Path, counter: list[int]) -> PullResult:
        async with AfcService(self._client) as afc:
            copier = AfcCopier(
                afc,
                prefix="afc",
                origin="afc:",
                store=store,
                counter=counter,
                on_command=self.on_command,
                on_file=lambda p: self.on_progress("afc", None, p),
                want=self._want_media,
            )
            return await copier.copy_tree("/")

    async def _list_apps(self) -> list[str]:
        if self.apps is not None:
            return self.apps
        async with InstallationProxyService(self._client) as proxy:
            self.on_command("installation_proxy Browse ApplicationType=User")
            apps = await proxy.browse(
                options={"ApplicationType": "User"}, attributes=["CFBundleIdentifier"]
            )
        return sorted({a["CFBundleIdentifier"] for a in apps if a.get("CFBundleIdentifier")})

    async def _pull_containers(self, store: Path, counter: list[int]) -> PullResult:
        total = PullResult()
        for bundle in await self._list_apps():
            safe = sanitise(bundle).path or "_"
            service = None
            refusal = ""
            for documents_only in (False, True):
                mode = "VendDocuments" if documents_only else "VendContainer"
                self.on_command(f"house_arrest {mode} {bundle}")
                try:
                    service = await HouseArrestService.create(
                        self._client, bundle, documents_only=documents_only
                    )
                    break
                except AppNotInstalledError:
                    refusal = "ApplicationLookupFailed (not installed)"
                    break
                except ConnectionTerminatedError:
                    raise
                except PyMobileDevice3Exception as exc:
                    text = str(exc)
                    refusal = (
                        "InstallationLookupFailed"
                        if "InstallationLookupFailed" in text
                        else f"{type(exc).__name__}: {text}"
                    )
            if service is None:
                total.problems.append(
                    (
                        f"containers/{safe}",
                        f"house_arrest refused {bundle}: {refusal}; iOS vends containers only "
                        "of developer-signed apps (Documents only for apps with file sharing); "
                        f"the app's backed-up files are in the backup's AppDomain-{bundle}",
                    )
                )
                continue
            try:
                copier = AfcCopier(
                    service,
                    prefix=f"containers/{safe}",
                    origin=f"house_arrest:{bundle}:",
                    store=store,
                    counter=counter,
                    on_command=self.on_command,
                    on_file=lambda p: self.on_progress("containers", None, p),
                )
                result = await copier.copy_tree("/")
            finally:
                try:
                    await service.close()
                except Exception:
                    pass
            total.items.extend(result.items)
            total.problems.extend(result.problems)
            if result.gone:
                total.gone = True
                break
        return total

    async def _pull_crash(self, store: Path, counter: list[int]) -> PullResult:
        async with CrashReportsManager(self._client) as crash:
            self.on_command("crashreportmover flush")
            await crash.flush()
            copier = AfcCopier(
                crash.afc,
                prefix="crash",
                origin="crash:",
                store=store,
                counter=counter,
                on_command=self.on_command,
                on_file=lambda p: self.on_progress("crash", None, p),
            )
            return await copier.copy_tree("/")

    # -- listing ---------------------------------------------------------------------
    def entries(self) -> Iterator[Entry | Problem]:
        self.acquire()
        yield from self._problems
        if self._backup is not None:
            yield from self._backup_entries(self._backup)
        for item in self._pulled:
            yield from _pulled_entry(item)

    def _backup_entries(self, outcome: BackupOutcome) -> Iterator[Entry | Problem]:
        meta_names = ("Info.plist", "Manifest.plist", "Manifest.db", "Status.plist")
        if outcome.complete:
            for name in meta_names:
                path = outcome.folder / name
                if path.is_file():
                    yield _local_entry(f"backup/{name}", path, f"backup:{name}", {})
            opened = False
            try:
                from acquisition.ios_backup import IosBackupSource

                backup = IosBackupSource(
                    str(outcome.folder),
                    password=self._password,
                    workdir=self.folder / "scratch" if self.folder else None,
                )
                with backup:
                    opened = True
                    yield from backup.entries()
            except ImportError:
                yield Problem("backup", "open", "no iOS backup reader available; raw files listed")
            except AcquisitionError as exc:
                if opened:
                    raise
                yield Problem("backup", "decrypt" if "password" in str(exc) else "open", str(exc))
            if opened:
                return
        # Interrupted, or unreadable: every received file as it arrived.
        for path in outcome.received_files():
            rel = path.relative_to(outcome.folder).as_posix()
            if outcome.complete and rel in meta_names:
                continue  # listed above
            if (
                path.parent == outcome.folder
                and path.name in ("Manifest.plist",)
                and not path.stat().st_size
            ):
                continue  # the empty placeholder the client creates before the phone sends one
            meta: dict[str, Any] = {"backup_complete": outcome.complete}
            if path.parent == outcome.folder and path.name in HOST_WRITTEN and not outcome.complete:
                meta["written_by"] = "host"  # made by the client before the phone sent anything
            yield _local_entry(f"backup/{rel}", path, f"backup:{rel}", meta)


def _local_entry(logical: str, path: Path, origin: str, meta: dict[str, Any]) -> Entry:
    return Entry(
        logical,
        EntryKind.FILE,
        size=path.stat().st_size,
        origin=origin,
        meta=meta,
        opener=lambda: open(path, "rb"),
    )


def _pulled_entry(item: Pulled) -> Iterator[Entry | Problem]:
    if item.issues:
        yield Problem(
            item.path,
            "acquire",
            "hostile name from the device: " + ", ".join(item.issues),
            origin=item.origin,
        )
    times = {k: v for k, v in (("mtime", item.mtime), ("birth", item.birth)) if v is not None}
    kind = {
        "file": EntryKind.FILE,
        "dir": EntryKind.DIR,
        "symlink": EntryKind.SYMLINK,
    }.get(item.kind, EntryKind.OTHER)
    meta: dict[str, Any] = {}
    if item.kind == "file":
        meta["complete"] = item.complete
        if item.expected_size is not None:
            meta["expected_size"] = item.expected_size
    local = item.local
    yield Entry(
        item.path,
        kind,
        size=item.size,
        times=times,
        origin=item.origin,
        link_target=item.link_target,
        meta=meta,
        opener=(lambda: open(local, "rb")) if local is not None else None,
    )


def _version(value: Any) -> tuple[int, ...]:
    out: list[int] = []
    for part in str(value or "").split("."):
        if not part.isdigit():
            break
        out.append(int(part))
    return tuple(out)


def _is_gone_message(error: str | None) -> bool:
    return bool(error and "disconnected" in error)
