"""``vmforensics keygen --out FILE``: an Ed25519 examiner key and its public forms."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chain_of_custody.seal import generate, write_key
from chain_of_custody.seal.keys import DEFAULT_KDF_ROUNDS
from vmforensics.cli._sealkeys import add_passphrase_option
from vmforensics.errors import EXIT_OK, InputError, UsageError
from vmforensics.secrets import KEY_PASSPHRASE, PASSPHRASE_ENV, get_secret, how_to_pass

NAME = "keygen"
HELP = "write an Ed25519 examiner key (OpenSSH format, passphrase-encrypted) and its public forms"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="FILE", help="private key file to create")
    p.add_argument("--comment", default="", help="comment on the OpenSSH public key line")
    add_passphrase_option(p)
    p.add_argument(
        "--kdf-rounds",
        type=int,
        default=DEFAULT_KDF_ROUNDS,
        metavar="N",
        help=f"bcrypt-pbkdf rounds (default {DEFAULT_KDF_ROUNDS}, as ssh-keygen)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _passphrase(args: argparse.Namespace) -> str:
    import os

    if not args.passphrase_file and not os.environ.get(PASSPHRASE_ENV) and sys.stdin.isatty():
        import getpass

        first = getpass.getpass("New key passphrase: ")
        again = getpass.getpass("Same passphrase again: ")
        if first != again:
            raise UsageError("the two passphrases differ")
        if not first:
            raise UsageError("an empty passphrase would leave the key unprotected")
        return first
    secret = get_secret(KEY_PASSPHRASE, args.passphrase_file, prompt_ok=False)
    if not secret:
        raise InputError(f"the key needs a passphrase: {how_to_pass(KEY_PASSPHRASE)}")
    return secret


def run(args: argparse.Namespace) -> int:
    if args.kdf_rounds < 1:
        raise UsageError("--kdf-rounds must be at least 1")
    out = Path(args.out)
    if not out.parent.is_dir():
        raise InputError(f"folder {out.parent} does not exist")
    passphrase = _passphrase(args)
    key = generate()
    try:
        paths = write_key(key, out, passphrase, comment=args.comment, rounds=args.kdf_rounds)
    except FileExistsError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise InputError(f"cannot write {exc.filename}: {exc.strerror}") from None
    pub = key.public
    if args.json:
        print(
            json.dumps(
                {
                    "fingerprint": pub.fingerprint,
                    "minisign_key_id": pub.minisign_key_id_hex,
                    "files": {k: str(v) for k, v in paths.items()},
                },
                indent=2,
            )
        )
    else:
        print(f"key fingerprint: {pub.fingerprint}")
        print(f"minisign key id: {pub.minisign_key_id_hex}")
        for kind, path in paths.items():
            print(f"{kind:9} {path}")
        print("Record the fingerprint in the lab's key register; verifiers compare against it.")
    return EXIT_OK
