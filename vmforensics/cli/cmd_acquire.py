"""``vmforensics acquire DEVICE --case DIR``: acquire a phone or watch, then analyse it.

Every command sent to the device is recorded in the custody log as it is sent; what the
device needs from the person holding it (tap Trust, confirm the backup) is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from acquisition.base import Source
from vmforensics.case import Case
from vmforensics.errors import EXIT_OK
from vmforensics.pipeline import ScanOptions, acquire_one, write_case_artifacts
from vmforensics.progress import make_progress
from vmforensics.secrets import BACKUP_PASSWORD, get_secret, how_to_pass
from vmforensics.summary import print_summary, summary_json

NAME = "acquire"
HELP = "acquire a device (Android serial, iOS UDID or HOST:PORT for ADB over TCP), then analyse"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("device", metavar="DEVICE", help="as `vmforensics devices` prints it")
    p.add_argument("--case", required=True, metavar="DIR")
    p.add_argument("--profile", choices=("voicemail", "full"), default="voicemail")
    p.add_argument("--case-id")
    p.add_argument("--examiner")
    p.add_argument(
        "--password-file",
        metavar="FILE",
        help="backup password (else $VMF_PASSWORD, else a prompt)",
    )
    p.add_argument("--adb-key-dir", metavar="DIR")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--json", action="store_true")


def build_source(args: argparse.Namespace, case: Case, password: str | None) -> Source:
    from vmforensics.devices import build_device_source

    def on_prompt(text: str) -> None:
        print(f">>> {text}", file=sys.stderr, flush=True)

    return build_device_source(
        args.device,
        case,
        profile=args.profile,
        password=password,
        on_prompt=on_prompt,
        key_dir=Path(args.adb_key_dir) if args.adb_key_dir else None,
    )


def run(args: argparse.Namespace) -> int:
    os.umask(0o077)
    password = get_secret(BACKUP_PASSWORD, args.password_file)
    case = Case.open_or_create(Path(args.case), case_id=args.case_id, examiner=args.examiner)
    progress = make_progress(args.quiet or args.json)
    try:
        source = build_source(args, case, password)
        case.event(
            "acquisition-started",
            {
                "device": args.device,
                "profile": args.profile,
                "password_provided": password is not None,
            },
        )
        result = acquire_one(case, source, args.device, ScanOptions(password), progress)
        write_case_artifacts(case)
    finally:
        progress.close()
        case.clean_tmp()
    if result.exit_code != EXIT_OK:
        print(f"vmforensics: {result.message}", file=sys.stderr)
        if result.needs_password:
            print(f"vmforensics: {how_to_pass(BACKUP_PASSWORD)}", file=sys.stderr)
    if args.json:
        import json

        print(json.dumps(summary_json(case, [result]), indent=2))
    elif not args.quiet:
        print_summary(case, [result])
    incomplete = [s for s in case.sources() if s["id"] == result.sid and not s.get("complete")]
    if incomplete:
        print(
            "vmforensics: ACQUISITION INCOMPLETE: the device went away or refused part of "
            "the transfer; what was received is kept and the case says so",
            file=sys.stderr,
        )
    return result.exit_code
