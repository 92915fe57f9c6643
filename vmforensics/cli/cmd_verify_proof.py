"""``vmforensics verify-proof PROOF FILE``: check one disclosed file against a sealed root."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chain_of_custody.seal.proof import ProofError, verify
from vmforensics.cli._sealkeys import load_signer
from vmforensics.cli.cmd_verify import UNPINNED, print_report
from vmforensics.errors import EXIT_OK, EXIT_VERIFY, InputError

NAME = "verify-proof"
HELP = "check that a file belongs to a sealed bag, from an inclusion proof alone"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("proof", metavar="PROOF", help="proof file written by prove")
    p.add_argument("file", metavar="FILE", help="the disclosed file")
    p.add_argument("--signer", metavar="PUBKEY", help="the examiner's public key")
    p.add_argument("--json", action="store_true", help="print a machine-readable result")


def run(args: argparse.Namespace) -> int:
    signer = load_signer(args.signer)
    try:
        proof = json.loads(Path(args.proof).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read {args.proof}: {exc.strerror}") from None
    except ValueError as exc:
        raise InputError(f"{args.proof} is not JSON: {exc}") from None
    if not Path(args.file).is_file():
        raise InputError(f"cannot read {args.file}")
    try:
        report = verify(proof, Path(args.file), signer)
    except ProofError as exc:
        raise InputError(str(exc)) from None
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print_report(report)
    if signer is None:
        print(UNPINNED.format(fp=report.signer_fingerprint or "unknown"), file=sys.stderr)
    if not report.ok:
        for c in report.failures:
            print(f"vmforensics: {c}", file=sys.stderr)
        return EXIT_VERIFY
    return EXIT_OK
