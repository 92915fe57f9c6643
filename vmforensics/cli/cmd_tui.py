"""``vmforensics tui``: the responder's terminal UI (also ``vmforensics`` alone on a terminal)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

NAME = "tui"
HELP = "the responder's terminal UI: case, devices, acquisition, findings, seal"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--case", metavar="DIR", help="open (or prefill) this case folder")
    p.add_argument("--examiner", help="prefill the examiner's name")
    p.add_argument(
        "--connect",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="also watch an ADB target over TCP (repeatable)",
    )
    p.add_argument("--adb-key-dir", metavar="DIR", help="folder of the examiner's ADB key")
    p.add_argument("--browse", metavar="DIR", help="where the file browser starts (default: .)")
    p.add_argument(
        "--poll", type=float, default=2.0, metavar="SECONDS", help="device list refresh interval"
    )


def run(args: argparse.Namespace) -> int:
    os.umask(0o077)
    from vmforensics.tui.app import VmfApp

    app = VmfApp(
        case_dir=Path(args.case) if args.case else None,
        connect=args.connect,
        key_dir=Path(args.adb_key_dir) if args.adb_key_dir else None,
        browse_root=Path(args.browse) if args.browse else None,
        poll_seconds=args.poll,
        examiner=args.examiner,
    )
    app.run()
    return int(app.return_code or 0)
