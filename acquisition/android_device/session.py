"""One conversation with a phone, whatever carries it: adb-shell or the system adb server.

Both sessions offer the same few read-only operations and report every command before it
is sent, so the custody log holds exactly what the phone was asked. Nothing here can push,
remove, remount, reboot or restart adbd: those operations simply do not exist on a session.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from adb_shell import exceptions as adb_exc

CommandHook = Callable[[str], None]

# how long to wait for one packet; a backup waits for the user's tap on the phone
READ_TIMEOUT_S = 60.0
BACKUP_TIMEOUT_S = 600.0
MAX_TEXT_REPLY = 16 * 1024 * 1024


class DeviceGone(Exception):
    """The connection to the phone broke (unplugged, adbd restarted, network lost)."""


class CommandFailed(Exception):
    """The phone refused one request (no such file, permission denied); others may work."""


@dataclass(frozen=True)
class RemoteFile:
    name: str
    mode: int
    size: int
    mtime: int


class Session(Protocol):
    transport: str

    def shell(self, command: str) -> str: ...

    def exec_stream(self, command: str) -> Iterator[bytes]: ...

    def backup_stream(self, args: list[str]) -> Iterator[bytes]: ...

    def list(self, path: str) -> list[RemoteFile]: ...

    def pull(self, path: str, dest: Path, progress: Callable[[int], None] | None) -> int: ...

    def close(self) -> None: ...


# errors meaning the link itself is gone, as opposed to one refused request
_LINK_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    adb_exc.AdbConnectionError,
    adb_exc.AdbTimeoutError,
    adb_exc.TcpTimeoutException,
    adb_exc.InvalidChecksumError,
    adb_exc.InvalidCommandError,
    adb_exc.InvalidResponseError,
    adb_exc.UsbReadFailedError,
    adb_exc.UsbWriteFailedError,
)


def _wire(path: str) -> bytes:
    """Device paths as bytes: names that are not UTF-8 go back exactly as they came."""
    return path.encode("utf-8", "surrogateescape")


class AdbShellSession:
    """The session over adb-shell's ``AdbDevice`` (TCP or USB transport)."""

    def __init__(self, device: object, on_command: CommandHook, transport: str) -> None:
        self._dev = device
        self._on_command = on_command
        self.transport = transport

    def _guard(self, what: str, call: Callable[[], object]) -> object:
        try:
            return call()
        except adb_exc.AdbCommandFailureException as exc:
            raise CommandFailed(str(exc).removeprefix("Command failed: ")) from exc
        except _LINK_ERRORS as exc:
            raise DeviceGone(f"{what}: {exc}") from exc

    def shell(self, command: str) -> str:
        """A text command; the answer is capped so a hostile device cannot fill memory."""
        self._on_command(f"shell:{command}")
        out = bytearray()
        for chunk in self._stream(b"shell", command.encode("utf-8"), READ_TIMEOUT_S):
            out += chunk
            if len(out) > MAX_TEXT_REPLY:
                raise CommandFailed(f"{command}: answer longer than {MAX_TEXT_REPLY} bytes")
        return out.decode("utf-8", "replace")

    def _stream(self, service: bytes, command: bytes, timeout: float) -> Iterator[bytes]:
        gen = self._dev._streaming_service(  # type: ignore[attr-defined]
            service, command, read_timeout_s=timeout, decode=False
        )
        while True:
            try:
                chunk = next(gen)
            except StopIteration:
                return
            except adb_exc.AdbCommandFailureException as exc:
                raise CommandFailed(str(exc)) from exc
            except _LINK_ERRORS as exc:
                raise DeviceGone(f"{service.decode()}:{command.decode()}: {exc}") from exc
            yield bytes(chunk)

    def exec_stream(self, command: str) -> Iterator[bytes]:
        self._on_command(f"exec:{command}")
        return self._stream(b"exec", command.encode("utf-8"), READ_TIMEOUT_S)

    def backup_stream(self, args: list[str]) -> Iterator[bytes]:
        line = " " + " ".join(shlex.quote(a) for a in args)
        self._on_command(f"backup:{line}")
        return self._stream(b"backup", line.encode("utf-8"), BACKUP_TIMEOUT_S)

    def list(self, path: str) -> list[RemoteFile]:
        self._on_command(f"sync:LIST {path}")
        found = self._guard(
            path,
            lambda: self._dev.list(_wire(path), read_timeout_s=READ_TIMEOUT_S),  # type: ignore[attr-defined]
        )
        return [
            RemoteFile(
                bytes(f.filename).decode("utf-8", "surrogateescape"), f.mode, f.size, f.mtime
            )
            for f in found  # type: ignore[attr-defined]
        ]

    def pull(self, path: str, dest: Path, progress: Callable[[int], None] | None) -> int:
        """Stream one file into ``dest``; after a drop, what arrived stays on disk."""
        self._on_command(f"sync:STAT {path}")  # adb-shell stats first to learn the size
        self._on_command(f"sync:RECV {path}")
        received = 0

        def count(_path: object, n: int, _total: object) -> None:
            nonlocal received
            received += n
            if progress is not None:
                progress(received)

        try:
            self._dev.pull(  # type: ignore[attr-defined]
                _wire(path), os.fspath(dest), progress_callback=count, read_timeout_s=READ_TIMEOUT_S
            )
        except adb_exc.AdbCommandFailureException as exc:
            raise CommandFailed(str(exc).removeprefix("Command failed: ")) from exc
        except _LINK_ERRORS as exc:
            size = dest.stat().st_size if dest.exists() else 0
            raise DeviceGone(f"{path}: {exc} ({size} bytes received)") from exc
        return dest.stat().st_size

    def close(self) -> None:
        try:
            self._dev.close()  # type: ignore[attr-defined]
        except Exception:
            pass


class AdbServerSession:
    """The session through the system ``adb`` client, for a phone its server holds on USB.

    Every request is an ``adb -s SERIAL ...`` subprocess; the serial and the device paths
    are passed as separate arguments, never through a local shell.
    """

    def __init__(self, serial: str, on_command: CommandHook, adb: str | None = None) -> None:
        found = adb or shutil.which("adb")
        if found is None:
            raise DeviceGone("the system 'adb' program is not installed")
        self._adb = found
        self.serial = serial
        self._on_command = on_command
        self.transport = "adb-server"

    def _argv(self, *args: str) -> list[str]:
        return [self._adb, "-s", self.serial, *args]

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        try:
            proc = subprocess.run(
                self._argv(*args), capture_output=True, timeout=READ_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DeviceGone(f"adb {' '.join(args)}: {exc}") from exc
        err = proc.stderr.decode("utf-8", "replace")
        if proc.returncode != 0 and ("not found" in err or "offline" in err or "no devices" in err):
            raise DeviceGone(err.strip() or f"adb exited with {proc.returncode}")
        return proc

    def shell(self, command: str) -> str:
        self._on_command(f"shell:{command}")
        return self._run("shell", command).stdout.decode("utf-8", "replace")

    def _popen_stream(self, args: list[str]) -> Iterator[bytes]:
        proc = subprocess.Popen(self._argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        try:
            while chunk := proc.stdout.read(64 * 1024):
                yield chunk
            proc.wait(timeout=READ_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
            raise DeviceGone(err.strip() or f"adb exited with {proc.returncode}")

    def exec_stream(self, command: str) -> Iterator[bytes]:
        self._on_command(f"exec:{command}")
        return self._popen_stream(["exec-out", command])

    def backup_stream(self, args: list[str]) -> Iterator[bytes]:
        line = "bu backup " + " ".join(shlex.quote(a) for a in args)
        self._on_command(f"exec:{line}")
        return self._popen_stream(["exec-out", line])

    def list(self, path: str) -> list[RemoteFile]:
        self._on_command(f"sync:LIST {path}")
        out = self._run("ls", path).stdout.decode("utf-8", "surrogateescape")
        files = []
        for line in out.splitlines():
            parts = line.split(" ", 3)
            if len(parts) != 4:
                continue
            try:
                mode, size, mtime = (int(x, 16) for x in parts[:3])
            except ValueError:
                continue
            files.append(RemoteFile(parts[3], mode, size, mtime))
        return files

    def pull(self, path: str, dest: Path, progress: Callable[[int], None] | None) -> int:
        self._on_command(f"sync:STAT {path}")  # adb pull stats before it receives
        self._on_command(f"sync:RECV {path}")
        proc = self._run("pull", path, os.fspath(dest))
        if proc.returncode != 0:
            msg = (proc.stdout + proc.stderr).decode("utf-8", "replace").strip()
            raise CommandFailed(msg.splitlines()[-1] if msg else "pull failed")
        size = dest.stat().st_size
        if progress is not None:
            progress(size)
        return size

    def close(self) -> None:
        pass
