"""Devices and offline sources as the CLI and the TUI both need them.

``build_device_source`` is the one place a device spec becomes a live :class:`Source`: it
records every command sent and every prompt shown in the custody log *before* handing
them to the caller's display callbacks, so no front end can forget the custody side.
"""

from __future__ import annotations

import plistlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from acquisition.base import Source
from vmforensics.case import Case

Report = Callable[[str], object]
ProgressHook = Callable[..., None]


def _noop(*_args: object) -> None:
    return None


def list_devices(connect: list[str], key_dir: Path | None) -> list[dict[str, Any]]:
    """Connected iOS and Android devices plus the named ADB TCP targets (``error`` when
    a target does not answer), exactly as ``vmforensics devices`` lists them."""
    from vmforensics.cli.cmd_devices import list_all

    return list_all(connect, key_dir)


def watch_usbmux(
    on_change: Callable[[], object], stop: threading.Event, retry_s: float = 1.0
) -> None:
    """Block until ``stop`` is set, calling ``on_change`` on every usbmux attach or detach
    event and when usbmuxd itself goes away, so a device list refreshes the moment a
    phone is plugged or pulled instead of at the next poll. Run it in a daemon thread:
    waiting for the next event cannot be interrupted."""
    import asyncio

    from pymobiledevice3 import usbmux

    from acquisition.ios_device.session import usbmux_address

    async def session(connected: list[bool]) -> None:
        mux = await usbmux.create_mux(usbmux_address=usbmux_address())
        try:
            await mux.listen()
            connected[0] = True
            on_change()
            while not stop.is_set():
                await mux.receive_device_state_update()
                on_change()
        finally:
            await mux.close()

    while not stop.is_set():
        connected = [False]
        try:
            asyncio.run(session(connected))
        except Exception:  # no usbmuxd (yet), or it went away
            pass
        if connected[0]:
            on_change()
        stop.wait(retry_s)


def ios_udids() -> set[str]:
    from acquisition.ios_device.devices import list_devices as ios_devices

    try:
        return {str(d.get("serial")) for d in ios_devices(probe=False)}
    except Exception:  # no usbmuxd: no iOS devices
        return set()


def build_device_source(
    spec: str,
    case: Case,
    *,
    profile: str = "voicemail",
    password: str | None = None,
    on_command: Report = _noop,
    on_prompt: Report = _noop,
    on_progress: ProgressHook = _noop,
    key_dir: Path | None = None,
) -> Source:
    """An unopened device source for ``spec`` (iOS UDID known to usbmux, else Android:
    serial, ``HOST:PORT``, ``usb:SERIAL`` or ``adb:SERIAL``).

    ``on_progress`` receives the device's own progress calls: Android
    ``(label, received_bytes, total_or_None)``, iOS ``(stage, percent_or_None, detail)``.
    """
    from acquisition.android_device.discovery import default_key_dir

    def command(text: str) -> None:
        case.event("device-command", {"device": spec, "command": text}, sync=False)
        on_command(text)

    def prompt(text: str) -> None:
        case.event("device-prompt", {"device": spec, "prompt": text}, sync=False)
        on_prompt(text)

    common: dict[str, Any] = {
        "workdir": case.tmp / "acquire",
        "profile": profile,
        "password": password,
        "on_command": command,
        "on_prompt": prompt,
        "on_progress": on_progress,
    }
    if spec in ios_udids():
        from acquisition.ios_device.source import IosDeviceSource

        return IosDeviceSource(spec, **common)
    from acquisition.android_device.source import AndroidDeviceSource

    return AndroidDeviceSource(spec, key_dir=key_dir or default_key_dir(), **common)


def describe_offline(path: Path) -> dict[str, Any]:
    """What an offline source is, without opening it: kind, and whether it is encrypted
    when the container says so in its header (iOS Manifest.plist, the .ab header)."""
    from acquisition.detect import open_source
    from acquisition.errors import AcquisitionError

    row: dict[str, Any] = {
        "serial": str(path),
        "kind": None,
        "model": None,
        "os": None,
        "encrypted": None,
        "offline": True,
    }
    try:
        source = open_source(str(path))
    except AcquisitionError as exc:
        row["error"] = str(exc)
        return row
    except OSError as exc:
        row["error"] = f"{path}: cannot be read ({exc.strerror or exc})"
        return row
    row["kind"] = source.kind
    if source.kind == "ios-backup":
        row.update(_ios_backup_facts(path))
    elif source.kind == "android-backup":
        row["encrypted"] = _ab_encrypted(path)
        row["os"] = "Android"
    return row


def _ios_backup_facts(path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"os": "iOS"}
    try:
        with open(path / "Manifest.plist", "rb") as f:
            manifest = plistlib.load(f)
        out["encrypted"] = bool(manifest.get("IsEncrypted"))
        lockdown = manifest.get("Lockdown") or {}
        out["model"] = lockdown.get("ProductType")
        if lockdown.get("ProductVersion"):
            out["os"] = f"iOS {lockdown['ProductVersion']}"
        out["udid"] = lockdown.get("UniqueDeviceID")
    except (OSError, ValueError, plistlib.InvalidFileException, AttributeError):
        pass
    return out


def _ab_encrypted(path: Path) -> bool | None:
    """An .ab header is four text lines; the fourth names the encryption."""
    try:
        with open(path, "rb") as f:
            head = f.read(256).split(b"\n")
    except OSError:
        return None
    if len(head) < 4 or head[0] != b"ANDROID BACKUP":
        return None
    return head[3].strip() != b"none"
