"""Shared by the seal commands: loading the examiner key with its passphrase, and errors.

Named without the ``cmd_`` prefix so the command discovery in ``main`` skips it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chain_of_custody.seal import KeyFileError, PublicKey, SigningKey, WrongPassphrase
from chain_of_custody.seal import load_key as _load_key
from chain_of_custody.seal import load_public as _load_public
from chain_of_custody.seal.keys import is_encrypted
from vmforensics.errors import InputError
from vmforensics.secrets import KEY_PASSPHRASE, get_secret, how_to_pass


def load_signing_key(path: str, passphrase_file: str | None) -> SigningKey:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read key {path}: {exc.strerror or exc}") from None
    passphrase = None
    if is_encrypted(data):
        passphrase = get_secret(KEY_PASSPHRASE, passphrase_file)
        if not passphrase:
            raise InputError(f"key {path} is encrypted: {how_to_pass(KEY_PASSPHRASE)}")
    try:
        return _load_key(Path(path), passphrase)
    except WrongPassphrase as exc:
        raise InputError(str(exc)) from None
    except KeyFileError as exc:
        raise InputError(str(exc)) from None


def load_signer(path: str | None) -> PublicKey | None:
    if path is None:
        return None
    try:
        return _load_public(Path(path))
    except KeyFileError as exc:
        raise InputError(str(exc)) from None


def add_passphrase_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--passphrase-file",
        metavar="FILE",
        help="file holding the key passphrase (else $VMF_KEY_PASSPHRASE, else a prompt)",
    )
