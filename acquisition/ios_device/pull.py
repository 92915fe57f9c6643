"""Copying files off the phone over AFC (media, app containers, crash reports).

Our own walk and copy, not ``AfcService.pull``: files stream in 1 MiB reads (never whole
in memory), links are recorded and never followed, the walk is bounded, and a transfer cut
mid-file keeps the bytes received and says how far it got. Only reading calls are used:
``listdir``, ``stat``, ``fopen(path, "r")``, ``fread``, ``fclose``.

Local copies are named by a counter under the caller's folder, never by the phone's file
names, so a hostile name cannot escape or collide; the logical evidence path keeps the name.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymobiledevice3.exceptions import (
    AfcException,
    ConnectionTerminatedError,
    PyMobileDevice3Exception,
)

from acquisition.paths import sanitise

CHUNK = 1024 * 1024
MAX_ENTRIES = 1_000_000
MAX_DEPTH = 64
GONE = (ConnectionTerminatedError, ConnectionError, EOFError, BrokenPipeError)


class DeviceGone(Exception):
    """The phone disconnected; what was received so far is kept."""


@dataclass
class Pulled:
    """One object copied (or listed) from the phone."""

    path: str  # logical evidence path
    kind: str  # file, dir, symlink
    origin: str  # "afc:/DCIM/x", "house_arrest:<bundle>:/Documents/x", "crash:/x.ips"
    local: Path | None = None
    size: int | None = None
    expected_size: int | None = None
    mtime: float | None = None
    birth: float | None = None
    link_target: str | None = None
    complete: bool = True
    issues: tuple[str, ...] = ()


@dataclass
class PullResult:
    items: list[Pulled] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, message)
    gone: bool = False


class AfcCopier:
    """Walks one AFC connection and copies what ``want`` selects into ``store``."""

    def __init__(
        self,
        afc: Any,
        *,
        prefix: str,
        origin: str,
        store: Path,
        counter: list[int],
        on_command: Callable[[str], None],
        on_file: Callable[[str], None] = lambda path: None,
        want: Callable[[str], bool] = lambda path: True,
    ) -> None:
        self.afc = afc
        self.prefix = prefix
        self.origin = origin
        self.store = store
        self.counter = counter
        self.on_command = on_command
        self.on_file = on_file
        self.want = want
        self.result = PullResult()
        self.seen = 0

    def logical(self, device_path: str) -> tuple[str, tuple[str, ...]]:
        # Device paths are absolute by construction; only what is below the root is a name.
        safe = sanitise(device_path[1:] if device_path.startswith("/") else device_path)
        return posixpath.join(self.prefix, safe.path) if safe.path else self.prefix, safe.issues

    async def copy_tree(self, root: str = "/") -> PullResult:
        self.on_command(f"{self.origin.rstrip(':')} walk {root} (list and stat only)")
        try:
            await self._walk(root, 0)
        except GONE:
            self.result.gone = True
        return self.result

    async def _walk(self, folder: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.result.problems.append(
                (self.logical(folder)[0], f"deeper than {MAX_DEPTH} levels")
            )
            return
        try:
            names = sorted(await self.afc.listdir(folder))
        except GONE:
            raise
        except Exception as exc:  # hostile or broken replies: record, go on
            self.result.problems.append((self.logical(folder)[0], f"cannot list: {_why(exc)}"))
            return
        for name in names:
            if name in ("", ".", ".."):
                continue
            self.seen += 1
            if self.seen > MAX_ENTRIES:
                self.result.problems.append(
                    (self.prefix, f"more than {MAX_ENTRIES} entries; rest skipped")
                )
                return
            path = folder.rstrip("/") + "/" + name  # never posixpath.join: "/x" would reset it
            try:
                st = await self.afc.stat(path)
            except GONE:
                raise
            except Exception as exc:
                self.result.problems.append((self.logical(path)[0], f"cannot stat: {_why(exc)}"))
                continue
            ifmt = st.get("st_ifmt")
            try:
                size = int(st.get("st_size", 0))
            except (TypeError, ValueError):
                size = 0
            logical, issues = self.logical(path)
            mtime, birth = _ts(st.get("st_mtime")), _ts(st.get("st_birthtime"))
            if ifmt == "S_IFDIR":
                self.result.items.append(
                    Pulled(
                        logical,
                        "dir",
                        f"{self.origin}{path}",
                        issues=issues,
                        mtime=mtime,
                        birth=birth,
                    )
                )
                await self._walk(path, depth + 1)
            elif ifmt == "S_IFLNK":
                self.result.items.append(
                    Pulled(
                        logical,
                        "symlink",
                        f"{self.origin}{path}",
                        link_target=str(st.get("LinkTarget", "")),
                        issues=issues,
                        mtime=mtime,
                        birth=birth,
                    )
                )
            elif ifmt == "S_IFREG":
                if self.want(path):
                    await self._copy_file(path, logical, max(size, 0), issues, (mtime, birth))
            else:
                self.result.items.append(
                    Pulled(
                        logical,
                        "other",
                        f"{self.origin}{path}",
                        issues=issues,
                        mtime=mtime,
                        birth=birth,
                    )
                )

    async def _copy_file(
        self,
        path: str,
        logical: str,
        size: int,
        issues: tuple[str, ...],
        times: tuple[float | None, float | None],
    ) -> None:
        self.counter[0] += 1
        local = self.store / f"{self.counter[0]:08d}"
        item = Pulled(
            logical,
            "file",
            f"{self.origin}{path}",
            local=local,
            expected_size=size,
            issues=issues,
            mtime=times[0],
            birth=times[1],
        )
        self.on_command(f"{self.origin.rstrip(':')} read {path}")
        received = 0
        handle = None
        with open(local, "wb") as out:
            try:
                handle = await self.afc.fopen(path, "r")
                while received < size:
                    chunk = await self.afc.fread(handle, min(CHUNK, size - received))
                    if not chunk:
                        break
                    out.write(chunk)
                    received += len(chunk)
                await self.afc.fclose(handle)
            except GONE:
                item.size, item.complete = received, False
                self.result.items.append(item)
                self.result.problems.append(
                    (logical, f"device disconnected after {received} of {size} bytes")
                )
                raise
            except Exception as exc:
                item.size, item.complete = received, False
                self.result.items.append(item)
                self.result.problems.append(
                    (logical, f"read failed after {received} bytes: {_why(exc)}")
                )
                return
        item.size = received
        if received != size:
            item.complete = False
            self.result.problems.append(
                (logical, f"file shrank while read: {received} of {size} bytes")
            )
        self.result.items.append(item)
        self.on_file(logical)


def _why(exc: BaseException) -> str:
    return (
        str(exc)
        if isinstance(exc, AfcException | PyMobileDevice3Exception)
        else (f"{type(exc).__name__}: {exc}")
    )


def _ts(value: Any) -> float | None:
    try:
        return float(value.timestamp())
    except (AttributeError, ValueError, OverflowError, OSError):
        return None
