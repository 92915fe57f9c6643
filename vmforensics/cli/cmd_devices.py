"""``vmforensics devices [--connect HOST:PORT]``: connected iOS and Android devices."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

NAME = "devices"
HELP = "list connected iOS and Android devices (and ADB targets over TCP)"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--connect",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="also try an ADB target over TCP (repeatable)",
    )
    p.add_argument(
        "--adb-key-dir",
        metavar="DIR",
        help="folder of the examiner's ADB key (default: ~/.android when it has "
        "adbkey, else ~/.config/vmforensics/adb)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")


def list_all(connect: list[str], key_dir: Path | None) -> list[dict[str, Any]]:
    from acquisition.android_device.discovery import list_devices as android_devices
    from acquisition.ios_device.devices import list_devices as ios_devices

    devices: list[dict[str, Any]] = []
    try:
        devices += ios_devices()
    except Exception as exc:  # no usbmuxd is "no devices", anything else is worth saying
        devices.append({"serial": "-", "kind": "ios", "error": f"usbmux: {exc}"})
    devices += android_devices(connect, key_dir=key_dir)
    return devices


def run(args: argparse.Namespace) -> int:
    devices = list_all(args.connect, Path(args.adb_key_dir) if args.adb_key_dir else None)
    if args.json:
        print(json.dumps(devices, indent=2, default=str))
        return 0
    for d in devices:
        if d.get("error"):
            print(f"{d.get('serial', '-')}  {d.get('kind', '?')}  unreachable: {d['error']}")
        else:
            print(f"{d['serial']}  {d['kind']}  {d.get('model') or '?'}  {d.get('os') or '?'}")
    return 0
