"""``vmforensics seal --case DIR --key FILE --out DIR2``: signed BagIt bags, one per source."""

from __future__ import annotations

import argparse
import json
import os

from chain_of_custody.seal import parse_recipients
from chain_of_custody.seal.envelope import RecipientError
from vmforensics.cli._sealkeys import add_passphrase_option, load_signing_key
from vmforensics.errors import EXIT_OK, InputError, UsageError
from vmforensics.sealing import open_case, seal_case

NAME = "seal"
HELP = "write one sealed, signed BagIt bag per source (and .tar.age packages for recipients)"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--case", required=True, metavar="DIR", help="the case folder")
    p.add_argument("--key", required=True, metavar="FILE", help="examiner key (from keygen)")
    p.add_argument("--out", required=True, metavar="DIR2", help="folder for the sealed bags")
    p.add_argument(
        "--recipient",
        action="append",
        default=[],
        metavar="R",
        help="age recipient (age1...), SSH public key, or a file listing them; repeatable",
    )
    p.add_argument(
        "--include-images",
        action="store_true",
        help="include raw images themselves, not only their hash",
    )
    p.add_argument("--source", action="append", metavar="ID", help="seal only these sources")
    add_passphrase_option(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    os.umask(0o022)
    open_case(args.case)  # a missing case is reported before any passphrase prompt
    recipients = []
    if args.recipient:
        try:
            recipients = parse_recipients(args.recipient)
        except RecipientError as exc:
            if "cannot read" in str(exc):
                raise InputError(str(exc)) from None
            raise UsageError(str(exc)) from None
    key = load_signing_key(args.key, args.passphrase_file)
    outcomes = seal_case(
        args.case,
        args.out,
        key,
        recipients=recipients,
        include_images=args.include_images,
        sources=args.source,
    )
    if args.json:
        print(
            json.dumps(
                {"signer": key.public.fingerprint, "bags": [o.to_json() for o in outcomes]},
                indent=2,
            )
        )
        return EXIT_OK
    print(f"signed by {key.public.fingerprint}")
    for o in outcomes:
        print(f"{o.source}: {o.bag}  seal {o.seal_id}  payload {o.oxum}")
        if o.package:
            print(f"    {o.package}  sha256 {o.package_sha256}")
            for r in o.recipients:
                print(f"    recipient {r}")
    print("Each bag's VERIFY.md lists the standard-tool commands that check it.")
    return EXIT_OK
