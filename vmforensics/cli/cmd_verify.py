"""``vmforensics verify PATH``: check a sealed bag, tar or .tar.age from signature to byte."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chain_of_custody.seal import KeyFileError, Report, Unopenable, load_identities, verify_path
from vmforensics.cli._sealkeys import load_signer
from vmforensics.errors import EXIT_OK, EXIT_VERIFY, InputError

NAME = "verify"
HELP = "verify a sealed bag, tar or .tar.age package (signature, seal, manifests, custody)"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "path", metavar="PATH", help="bag folder, .tar, .tar.age, or a seal --out folder"
    )
    p.add_argument(
        "--signer", metavar="PUBKEY", help="the examiner's public key (OpenSSH, PEM or minisign)"
    )
    p.add_argument("--identity", metavar="FILE", help="age identity or SSH key to decrypt .age")
    p.add_argument("--json", action="store_true", help="print a machine-readable result")
    p.add_argument("--all", action="store_true", help="also list every passing check")


def targets(path: Path) -> list[Path]:
    if path.is_dir() and not (path / "bagit.txt").exists():
        bags = sorted(p for p in path.iterdir() if p.is_dir() and (p / "bagit.txt").exists())
        if bags:
            return bags
    return [path]


UNPINNED = (
    "WARNING: SIGNER NOT PINNED. The signature was checked against the key inside the package, "
    "which anyone re-sealing it could replace. Compare the fingerprint {fp} with the lab's key "
    "register, or pass --signer PUBKEY."
)


def print_report(report: Report) -> None:
    print(f"{'VERIFIED' if report.ok else 'FAILED'}: {report.target}")
    if report.seal_id:
        print(f"  seal id {report.seal_id}")
    if report.signer_fingerprint:
        pinned = "pinned" if report.pinned else "NOT pinned"
        print(f"  signer {report.signer_fingerprint} ({pinned})")
    for c in report.checks:
        print(f"  {c}")
    for note in report.notes:
        print(f"  NOTE {note}")


def run(args: argparse.Namespace) -> int:
    signer = load_signer(args.signer)
    identities = None
    if args.identity:
        try:
            identities = load_identities(Path(args.identity))
        except KeyFileError as exc:
            raise InputError(str(exc)) from None
    path = Path(args.path)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    reports = []
    for target in targets(path):
        try:
            reports.append(verify_path(target, signer, identities))
        except Unopenable as exc:
            raise InputError(str(exc)) from None
    ok = all(r.ok for r in reports)
    if args.json:
        out = {"ok": ok, "reports": [r.to_json() for r in reports]}
        if signer is None:
            out["warning"] = "signer not pinned"
        print(json.dumps(out, indent=2))
    else:
        for r in reports:
            print_report(r)
    if signer is None:
        fps = sorted({r.signer_fingerprint or "unknown" for r in reports})
        print(UNPINNED.format(fp=", ".join(fps)), file=sys.stderr)
        if not args.json:
            print(UNPINNED.format(fp=", ".join(fps)))
    if not ok:
        for r in reports:
            for c in r.failures:
                print(f"vmforensics: {r.target}: {c}", file=sys.stderr)
        return EXIT_VERIFY
    return EXIT_OK
