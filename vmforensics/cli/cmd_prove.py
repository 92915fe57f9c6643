"""``vmforensics prove BAG FILE --out PROOF``: inclusion proof of one payload file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from chain_of_custody.seal.proof import ProofError, make
from vmforensics.errors import EXIT_OK, InputError, UsageError

NAME = "prove"
HELP = "write an inclusion proof that one payload file belongs to a sealed bag"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="BAG", help="the sealed bag folder")
    p.add_argument("file", metavar="FILE", help="payload path (data/...) or the file in the bag")
    p.add_argument("--out", required=True, metavar="PROOF", help="proof file to write (JSON)")


def run(args: argparse.Namespace) -> int:
    bag = Path(args.path)
    if not (bag / "bagit.txt").is_file():
        raise InputError(f"{bag} is not a bag folder")
    try:
        proof = make(bag, args.file)
    except ProofError as exc:
        if "not in the payload manifest" in str(exc):
            raise UsageError(str(exc)) from None
        raise InputError(str(exc)) from None
    out = Path(args.out)
    try:
        out.write_text(json.dumps(proof, indent=1, sort_keys=True) + "\n")
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}") from None
    print(
        f"{proof['path']}: leaf {proof['leaf_index']} of {proof['tree_size']}, "
        f"root {proof['merkle_root_sha256']}, seal {proof['seal_id']}"
    )
    return EXIT_OK
