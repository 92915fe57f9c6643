"""age encryption of the sealed tar to one or more recipients (pyrage).

age is an open format with a standard CLI on every platform and authenticated streaming
(truncation and reordering are detected). age signs nothing: authenticity comes from the
bag's own signature and the signed "exported" custody event naming the ciphertext hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pyrage

from chain_of_custody.seal.keys import KeyFileError, parse_public


class RecipientError(Exception):
    pass


class DecryptFailed(Exception):
    """The ciphertext is damaged or truncated (not: no matching identity)."""


class NoMatchingIdentity(Exception):
    pass


@dataclass(frozen=True)
class Recipient:
    text: str  # as age reads it: age1... or an SSH public key line
    label: str  # what the custody log records: the age1 string or the SSH key fingerprint
    obj: Any


def _one(line: str, where: str) -> Recipient:
    line = line.strip()
    try:
        if line.startswith("age1"):
            return Recipient(line, line, pyrage.x25519.Recipient.from_str(line))
        if line.startswith(("ssh-ed25519 ", "ssh-rsa ")):
            label = line.split()[0]
            if line.startswith("ssh-ed25519 "):
                try:
                    label = "ssh-ed25519 " + parse_public(line).fingerprint
                except KeyFileError:
                    pass
            return Recipient(line, label, pyrage.ssh.Recipient.from_str(line))
    except Exception as exc:  # pyrage raises its own RecipientError and ValueError
        raise RecipientError(f"{where}: not a valid recipient: {exc}") from None
    raise RecipientError(f"{where}: not an age1... or ssh-ed25519/ssh-rsa recipient")


def parse_recipients(values: list[str]) -> list[Recipient]:
    """Each value: a recipient string, or a file listing them (as ``age -R`` reads)."""
    out: list[Recipient] = []
    for value in values:
        if value.startswith(("age1", "ssh-")):
            out.append(_one(value, "recipient"))
            continue
        path = Path(value)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RecipientError(f"cannot read recipients file {value}: {exc}") from None
        found = [
            _one(line, f"{value} line {n}")
            for n, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if not found:
            raise RecipientError(f"recipients file {value} lists no recipient")
        out.extend(found)
    seen: set[str] = set()
    unique = []
    for r in out:
        if r.text not in seen:
            seen.add(r.text)
            unique.append(r)
    return unique


def load_identities(path: Path) -> list[Any]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read identity {path}: {exc.strerror or exc}") from None
    if b"BEGIN OPENSSH PRIVATE KEY" in data:
        try:
            return [pyrage.ssh.Identity.from_buffer(data)]
        except Exception as exc:
            raise KeyFileError(f"identity {path}: {exc}") from None
    ids = []
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            ids.append(pyrage.x25519.Identity.from_str(line))
        except Exception:
            raise KeyFileError(f"identity {path} line {n}: not an AGE-SECRET-KEY") from None
    if not ids:
        raise KeyFileError(f"identity {path} holds no identity")
    return ids


def encrypt(src: BinaryIO, out: BinaryIO, recipients: list[Recipient]) -> None:
    pyrage.encrypt_io(src, out, [r.obj for r in recipients])


def decrypt(src: BinaryIO, out: BinaryIO, identities: list[Any]) -> None:
    try:
        pyrage.decrypt_io(src, out, identities)
    except pyrage.DecryptError as exc:
        if "no matching" in str(exc).lower():
            raise NoMatchingIdentity(str(exc)) from None
        raise DecryptFailed(str(exc)) from None
    except OSError as exc:
        raise DecryptFailed(str(exc) or "decryption error") from None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
