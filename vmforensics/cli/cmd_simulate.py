"""``vmforensics simulate android|ios IMAGE``: a virtual device for tests, demos, training.

It speaks the real wire protocols (ADB; usbmux/lockdown/AFC/mobilebackup2), so every
client — ours, Debian's adb, libimobiledevice — talks to it as to a phone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vmforensics.errors import InputError

NAME = "simulate"
HELP = "run a virtual Android or iOS device serving a device image, until interrupted"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("platform", choices=("android", "ios"))
    p.add_argument(
        "image",
        metavar="IMAGE",
        help="Android: a file-system extraction (folder, tar or zip); iOS: a backup folder",
    )
    p.add_argument("--port", type=int, default=0, help="Android: TCP port (default: any free)")
    root = p.add_mutually_exclusive_group()
    root.add_argument("--root", action="store_true", help="Android: behave as a rooted device")
    root.add_argument("--no-root", dest="root", action="store_false")
    p.add_argument("--socket", metavar="PATH", help="iOS: usbmux unix socket path")


def _ready(text: str) -> None:
    print(text, flush=True)


def run(args: argparse.Namespace) -> int:
    image = Path(args.image)
    if not image.exists():
        raise InputError(f"{image}: no such file or folder")
    if args.platform == "android":
        from vmforensics.virtual.adb.server import run_forever as run_android

        print(
            "virtual Android device: acquire it with `vmforensics acquire HOST:PORT`",
            file=sys.stderr,
        )
        run_android(image, port=args.port, root=args.root, ready=_ready)
    else:
        from vmforensics.virtual.ios.device import run_forever as run_ios

        print(
            "virtual iOS device: export USBMUXD_SOCKET_ADDRESS=<the value below>", file=sys.stderr
        )
        run_ios(image, socket_path=args.socket, ready=_ready)
    return 0
