"""Reaching a phone: ADB over TCP or USB with a key adbd accepts, or the system adb server.

The host key lives in a folder the caller chooses and is created with adb-shell's keygen
when absent. Signing uses ``PythonRSASigner``: adb-shell's ``PycryptodomeAuthSigner`` hashes
the token again, which adbd rejects, so the phone would prompt for the key every time.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from adb_shell import exceptions as adb_exc
from adb_shell.adb_device import AdbDevice
from adb_shell.auth.keygen import keygen
from adb_shell.auth.sign_pythonrsa import PythonRSASigner
from adb_shell.transport.tcp_transport import TcpTransport

from acquisition.android_device.session import (
    AdbServerSession,
    AdbShellSession,
    CommandHook,
    Session,
)
from acquisition.errors import SourceUnavailable

KEY_NAME = "adbkey"
AUTH_TIMEOUT_S = 120.0  # the operator has this long to tap "Allow" on the phone
TRANSPORT_TIMEOUT_S = 30.0

_HOSTPORT = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+):(?P<port>\d{1,5})$")

ALLOW_PROMPT = (
    "The phone shows 'Allow USB debugging?' for this computer's key: unlock it and tap "
    "Allow (tick 'Always allow' to avoid the prompt next time)."
)


def parse_hostport(spec: str) -> tuple[str, int] | None:
    """``HOST:PORT`` for ADB over TCP, or None when ``spec`` is a USB serial."""
    m = _HOSTPORT.match(spec.strip())
    if not m:
        return None
    port = int(m.group("port"))
    if not 0 < port < 65536:
        return None
    return m.group("host").strip("[]"), port


def load_signer(key_dir: Path) -> PythonRSASigner:
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = key_dir / KEY_NAME
    if not key.is_file() or not key.with_name(KEY_NAME + ".pub").is_file():
        keygen(str(key))
        key.chmod(0o600)
    return PythonRSASigner.FromRSAKeyPath(str(key))


class _TcpTransport(TcpTransport):
    """adb-shell's TCP transport, but a closed socket is reported at once.

    The stock transport returns b"" forever after the peer closes, and adb-shell then
    spins until its read timeout; an unplugged phone must be noticed immediately.
    """

    def connect(self, transport_timeout_s: float | None) -> None:
        super().connect(transport_timeout_s)
        # adb-shell writes header and payload separately: without this, Nagle waits
        # for the phone's delayed ACK on every packet
        self._connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def bulk_read(self, numbytes: int, transport_timeout_s: float | None) -> bytes:
        data = super().bulk_read(numbytes, transport_timeout_s)
        if not data:
            raise ConnectionResetError("the device closed the connection")
        return data


def _connect(
    device: AdbDevice,
    signer: PythonRSASigner,
    on_prompt: Callable[[str], None],
    auth_timeout_s: float = AUTH_TIMEOUT_S,
) -> list[bool]:
    """Connect; the returned flag list says whether the phone had to prompt for the key."""
    prompted = [False]

    def prompt(_dev: object) -> None:
        prompted[0] = True
        on_prompt(ALLOW_PROMPT)

    try:
        device.connect(
            rsa_keys=[signer],
            transport_timeout_s=TRANSPORT_TIMEOUT_S,
            auth_timeout_s=auth_timeout_s,
            auth_callback=prompt,
        )
    except Exception as exc:
        exc.prompted = prompted[0]  # type: ignore[attr-defined]
        raise
    return prompted


def open_tcp(
    host: str,
    port: int,
    *,
    key_dir: Path,
    on_command: CommandHook,
    on_prompt: Callable[[str], None],
    timeout_s: float = TRANSPORT_TIMEOUT_S,
    auth_timeout_s: float = AUTH_TIMEOUT_S,
) -> Session:
    signer = load_signer(key_dir)
    device = AdbDevice(_TcpTransport(host, port), default_transport_timeout_s=timeout_s)
    try:
        _connect(device, signer, on_prompt, auth_timeout_s)
    except adb_exc.DeviceAuthError as exc:
        raise SourceUnavailable(f"{host}:{port}: the phone refused this computer's key ({exc})")
    except (OSError, adb_exc.TcpTimeoutException, adb_exc.AdbTimeoutError) as exc:
        if getattr(exc, "prompted", False):
            raise SourceUnavailable(
                f"{host}:{port}: this computer's key was not allowed on the phone ({exc}); "
                "unlock it, tap Allow on the 'Allow USB debugging?' prompt and try again"
            )
        raise SourceUnavailable(
            f"{host}:{port}: no ADB device answered ({exc}); check the address, that "
            "wireless or TCP debugging is on, and that the key was allowed on the phone"
        )
    except (adb_exc.InvalidResponseError, adb_exc.InvalidChecksumError) as exc:
        raise SourceUnavailable(f"{host}:{port}: not an ADB device ({exc})")
    return AdbShellSession(device, on_command, "tcp")


def server_holds(serial: str) -> bool:
    adb = shutil.which("adb")
    if adb is None:
        return False
    try:
        out = subprocess.run(
            [adb, "devices"], capture_output=True, timeout=15, check=False
        ).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired):
        return False
    return any(
        line.split("\t")[0] == serial and line.endswith("\tdevice") for line in out.splitlines()[1:]
    )


def open_usb(
    serial: str,
    *,
    key_dir: Path,
    on_command: CommandHook,
    on_prompt: Callable[[str], None],
) -> Session:
    """USB through adb-shell; when the system adb server holds the phone, go through it."""
    try:
        import usb1  # noqa: F401
        from adb_shell.adb_device import AdbDeviceUsb  # needs adb-shell[usb] (libusb1)
    except ImportError:
        usb_error = "USB support is not installed (pip install 'adb-shell[usb]')"
    else:
        signer = load_signer(key_dir)
        try:
            device = AdbDeviceUsb(serial=serial, default_transport_timeout_s=TRANSPORT_TIMEOUT_S)
            _connect(device, signer, on_prompt)
            return AdbShellSession(device, on_command, "usb")
        except adb_exc.DeviceAuthError as exc:
            raise SourceUnavailable(f"{serial}: the phone refused this computer's key ({exc})")
        except Exception as exc:  # libusb reports busy/access problems in many shapes
            usb_error = f"USB connection failed: {exc}"
    if server_holds(serial):
        on_prompt(
            f"{serial} is held by a running adb server ({usb_error}); acquiring through it "
            f"with 'adb -s {serial} ...'. To use the direct path instead, run 'adb kill-server'."
        )
        return AdbServerSession(serial, on_command)
    raise SourceUnavailable(f"{serial}: no such Android device ({usb_error})")
