"""``vmforensics custody add PATH --event ...``: a signed custody event after sealing.

The sealed bag never changes; later events go to the signed sidecar chain beside it
(``<bag>.custody/``), the first linked to the seal ID.
"""

from __future__ import annotations

import argparse
import tarfile
from pathlib import Path

from chain_of_custody.seal import package_name
from chain_of_custody.seal import sidecar as sc
from chain_of_custody.seal.sealfile import seal_id
from vmforensics import TOOL_NAME, __version__
from vmforensics.cli._sealkeys import add_passphrase_option, load_signing_key
from vmforensics.clock import now_iso
from vmforensics.errors import EXIT_OK, InputError, UsageError

NAME = "custody"
HELP = "record custody events after sealing (custody add ...)"
EVENTS = ("transferred", "received", "opened", "returned")


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    add = sub.add_parser("add", help="append a signed event to the package's sidecar chain")
    add.add_argument("path", metavar="PATH", help="the sealed bag folder, .tar or .tar.age")
    add.add_argument("--event", required=True, choices=EVENTS)
    add.add_argument("--actor", required=True, metavar="NAME")
    add.add_argument("--location", metavar="TEXT")
    add.add_argument("--note", metavar="TEXT")
    add.add_argument("--key", required=True, metavar="FILE", help="the actor's Ed25519 key")
    add_passphrase_option(add)


def _seal_id(path: Path, side: Path) -> str:
    if path.is_dir():
        try:
            return seal_id((path / "seal" / "SEAL.sha512").read_bytes())
        except OSError:
            raise InputError(f"{path} is not a sealed bag (no seal/SEAL.sha512)") from None
    if path.name.endswith(".tar"):
        want = f"{package_name(path)}/seal/SEAL.sha512"
        try:
            with tarfile.open(path, "r|*") as tar:
                for member in tar:
                    if member.name == want and member.isreg():
                        f = tar.extractfile(member)
                        if f is not None:
                            return seal_id(f.read(1 << 20))
        except (OSError, tarfile.TarError) as exc:
            raise InputError(f"cannot read {path}: {exc}") from None
        raise InputError(f"{path} holds no {want}")
    known = sc.seal_id_from(side)
    if known is None:
        raise InputError(
            f"{path}: no custody sidecar names its seal; add the event to the bag or tar instead"
        )
    return known


def run(args: argparse.Namespace) -> int:
    if args.action != "add":
        raise UsageError("say what to do: custody add PATH --event ... --actor ... --key ...")
    path = Path(args.path)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    side = sc.sidecar_for(path.parent, package_name(path))
    sid = _seal_id(path, side)
    key = load_signing_key(args.key, args.passphrase_file)
    detail = {k: v for k, v in (("location", args.location), ("note", args.note)) if v}
    entry = sc.append(
        side,
        sid,
        key,
        event=args.event,
        actor=args.actor,
        tool=f"{TOOL_NAME} {__version__}",
        time_utc=now_iso(),
        detail=detail,
    )
    print(
        f"{side}/{entry['seq']:06d}.json: {args.event} by {args.actor}, "
        f"signed by {key.public.fingerprint}"
    )
    return EXIT_OK
