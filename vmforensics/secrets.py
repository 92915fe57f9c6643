"""Reading secrets the one way DESIGN.md allows, in its order.

``--password-file``/``--passphrase-file``, then the environment (``VMF_PASSWORD`` /
``VMF_KEY_PASSPHRASE``), then a prompt when standard input is a terminal. Secrets never
come from argv, and are never logged: callers record only that one was provided.
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from vmforensics.errors import InputError

PASSWORD_ENV = "VMF_PASSWORD"
PASSPHRASE_ENV = "VMF_KEY_PASSPHRASE"


@dataclass(frozen=True)
class SecretSource:
    file_option: str  # e.g. "--password-file"
    env: str
    prompt: str


BACKUP_PASSWORD = SecretSource("--password-file", PASSWORD_ENV, "Backup password: ")
KEY_PASSPHRASE = SecretSource("--passphrase-file", PASSPHRASE_ENV, "Key passphrase: ")


def read_secret_file(path: str | Path) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read secret file {path}: {exc.strerror or exc}") from None
    return text.rstrip("\r\n")


def get_secret(kind: SecretSource, file: str | None, *, prompt_ok: bool = True) -> str | None:
    """The secret from the first place that has one, or None when there is none."""
    if file:
        return read_secret_file(file)
    value = os.environ.get(kind.env)
    if value:
        return value
    if prompt_ok and sys.stdin is not None and sys.stdin.isatty():
        try:
            return getpass.getpass(kind.prompt)
        except (EOFError, KeyboardInterrupt):
            return None
    return None


def how_to_pass(kind: SecretSource) -> str:
    return f"pass it with {kind.file_option} FILE or the {kind.env} environment variable"
