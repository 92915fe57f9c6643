"""``vmforensics scan SOURCE... --case DIR``: add sources to a case and analyse them."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from vmforensics.case import Case
from vmforensics.errors import EXIT_INPUT, EXIT_OK, UsageError
from vmforensics.pipeline import ScanOptions, SourceResult, scan
from vmforensics.progress import make_progress
from vmforensics.secrets import BACKUP_PASSWORD, get_secret, how_to_pass
from vmforensics.summary import print_summary, summary_json

NAME = "scan"
HELP = "add sources (backups, archives, folders, images) to a case and analyse them"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="backup folder, .ab, tar, zip, folder or raw image; the kind is recognised by content",
    )
    p.add_argument("--case", required=True, metavar="DIR", help="case folder (created if absent)")
    p.add_argument("--case-id", help="case identifier (default: the folder name)")
    p.add_argument("--examiner", help="examiner name (default: the login name)")
    p.add_argument(
        "--password-file",
        metavar="FILE",
        help="file holding the backup password (else $VMF_PASSWORD, else a prompt)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary")
    p.add_argument(
        "--legacy-hashes",
        action="store_true",
        help="also MD5 and SHA-1 for raw images and containers",
    )
    p.add_argument(
        "--verify-source",
        action="store_true",
        help="hash single-file sources again at the end and compare",
    )


def run(args: argparse.Namespace) -> int:
    os.umask(0o077)
    _refuse_overlap(Path(args.case), args.sources)
    password = get_secret(BACKUP_PASSWORD, args.password_file)
    case = Case.open_or_create(Path(args.case), case_id=args.case_id, examiner=args.examiner)
    progress = make_progress(args.quiet or args.json)
    try:
        results = scan(
            case,
            args.sources,
            ScanOptions(password, args.legacy_hashes, args.verify_source),
            progress,
        )
    finally:
        progress.close()
    for res in results:
        if res.exit_code != EXIT_OK:
            print(f"vmforensics: {res.message}", file=sys.stderr)
            if res.needs_password:
                print(f"vmforensics: {how_to_pass(BACKUP_PASSWORD)}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary_json(case, results), indent=2))
    elif not args.quiet:
        print_summary(case, results)
    return max((r.exit_code for r in results), default=EXIT_OK)


def _refuse_overlap(case: Path, sources: list[str]) -> None:
    """A case inside a source would write into the source; a source inside the case
    would be written to while it is read. Both are refused before anything is written."""
    root = case.resolve()
    for location in sources:
        src = Path(location).resolve()
        if src == root or src in root.parents or root in src.parents:
            raise UsageError(
                f"{location}: the case folder {case} is inside this source or the source is "
                "inside the case; choose a case folder outside every source"
            )


def worst(results: list[SourceResult]) -> int:
    return max((r.exit_code for r in results), default=EXIT_INPUT)
