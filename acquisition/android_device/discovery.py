"""Which Android devices can be acquired right now.

Three places are asked, none of them intrusively: the ``HOST:PORT`` targets the operator
names (only ``getprop`` is sent), a system adb server *if one is already running* (we never
start one: that would grab every USB phone), and libusb when adb-shell's USB extra is
installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from acquisition.android_device.connect import open_tcp, parse_hostport
from acquisition.errors import AcquisitionError

_TIMEOUT_S = 10


def default_key_dir() -> Path:
    """The host's adb key folder when it has one (phones already trust it), else ours."""
    android = Path.home() / ".android"
    if (android / "adbkey").is_file():
        return android
    return Path.home() / ".config" / "vmforensics" / "adb"


def _os_name(release: str | None, characteristics: str | None) -> str:
    name = "Wear OS" if characteristics and "watch" in characteristics.split(",") else "Android"
    return f"{name} {release}" if release else name


def _tcp(spec: str, key_dir: Path, on_command: Callable[[str], None]) -> dict[str, Any]:
    target = parse_hostport(spec)
    if target is None:
        return {
            "serial": spec,
            "kind": "android",
            "model": None,
            "os": None,
            "error": "not HOST:PORT",
        }
    try:
        session = open_tcp(
            *target,
            key_dir=key_dir,
            on_command=on_command,
            on_prompt=lambda _m: None,
            timeout_s=_TIMEOUT_S,
            auth_timeout_s=_TIMEOUT_S,  # a listing shows the prompt but does not wait on it
        )
    except AcquisitionError as exc:
        return {"serial": spec, "kind": "android", "model": None, "os": None, "error": str(exc)}
    try:
        props: dict[str, str] = {}
        for line in session.shell("getprop").splitlines():
            if line.startswith("[") and "]: [" in line and line.endswith("]"):
                k, _, v = line[1:-1].partition("]: [")
                props[k] = v
    except Exception as exc:
        return {"serial": spec, "kind": "android", "model": None, "os": None, "error": str(exc)}
    finally:
        session.close()
    return {
        "serial": spec,
        "kind": "android",
        "model": props.get("ro.product.model"),
        "os": _os_name(
            props.get("ro.build.version.release"), props.get("ro.build.characteristics")
        ),
        "hardware_serial": props.get("ro.serialno"),
        "transport": "tcp",
    }


def _server_running() -> bool:
    port = int(os.environ.get("ANDROID_ADB_SERVER_PORT", "5037") or 5037)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _adb_server(on_command: Callable[[str], None]) -> list[dict[str, Any]]:
    adb = shutil.which("adb")
    if adb is None or not _server_running():
        return []
    try:
        out = subprocess.run(
            [adb, "devices", "-l"], capture_output=True, timeout=_TIMEOUT_S, check=False
        ).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = []
    for line in out.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 2:
            continue
        serial, state = fields[0], fields[1]
        info = dict(f.split(":", 1) for f in fields[2:] if ":" in f)
        entry: dict[str, Any] = {
            "serial": serial,
            "kind": "android",
            "model": info.get("model", "").replace("_", " ") or None,
            "os": None,
            "transport": "adb-server",
            "state": state,
        }
        if state == "device":
            on_command(f"adb -s {serial} shell:getprop ro.build.version.release")
            try:
                rel = (
                    subprocess.run(
                        [adb, "-s", serial, "shell", "getprop", "ro.build.version.release"],
                        capture_output=True,
                        timeout=_TIMEOUT_S,
                        check=False,
                    )
                    .stdout.decode("utf-8", "replace")
                    .strip()
                )
                on_command(f"adb -s {serial} shell:getprop ro.build.characteristics")
                chars = (
                    subprocess.run(
                        [adb, "-s", serial, "shell", "getprop", "ro.build.characteristics"],
                        capture_output=True,
                        timeout=_TIMEOUT_S,
                        check=False,
                    )
                    .stdout.decode("utf-8", "replace")
                    .strip()
                )
                entry["os"] = _os_name(rel or None, chars)
            except (OSError, subprocess.TimeoutExpired):
                pass
        found.append(entry)
    return found


def _usb() -> list[dict[str, Any]]:
    try:
        import usb1  # noqa: F401
        from adb_shell.transport.usb_transport import UsbTransport
    except ImportError:
        return []
    found = []
    try:
        for transport in UsbTransport.find_all_adb_devices():
            found.append(
                {
                    "serial": transport.serial_number,
                    "kind": "android",
                    "model": None,
                    "os": None,
                    "transport": "usb",
                }
            )
    except Exception:
        return []
    return found


def list_devices(
    connect: list[str],
    *,
    key_dir: Path | None = None,
    on_command: Callable[[str], None] = lambda _c: None,
) -> list[dict[str, Any]]:
    """Devices as ``{serial, kind: "android", model, os}`` dicts (``serial`` is what to
    pass to ``acquire``: a USB serial or ``HOST:PORT``); unreachable targets carry
    ``error``."""
    keys = key_dir or default_key_dir()
    devices = [_tcp(spec, keys, on_command) for spec in connect]
    seen = {d["serial"] for d in devices}
    for d in _adb_server(on_command) + _usb():
        if d["serial"] not in seen:
            seen.add(d["serial"])
            devices.append(d)
    return devices
