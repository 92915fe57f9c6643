"""minisign signatures (prehashed ``ED``), checkable with ``minisign -V``.

The trusted comment is covered by a second ("global") signature, so case, source, seal time
and Merkle root written there are authenticated and printed by ``minisign -V``.
"""

from __future__ import annotations

import base64
import hashlib

from chain_of_custody.seal.keys import PublicKey, SigningKey


def _prehash(message: bytes) -> bytes:
    return hashlib.blake2b(message, digest_size=64).digest()


def sign(key: SigningKey, message: bytes, trusted_comment: str, untrusted: str = "") -> str:
    if "\n" in trusted_comment or "\r" in trusted_comment:
        raise ValueError("a trusted comment is one line")
    sig = key.sign(_prehash(message))
    global_sig = key.sign(sig + trusted_comment.encode())
    blob = b"ED" + key.public.minisign_key_id + sig
    return (
        f"untrusted comment: {untrusted or 'signature from vmforensics'}\n"
        f"{base64.b64encode(blob).decode()}\n"
        f"trusted comment: {trusted_comment}\n"
        f"{base64.b64encode(global_sig).decode()}\n"
    )


def verify(text: str | bytes, message: bytes, key: PublicKey) -> tuple[str, str]:
    """(reason, trusted comment); the reason is empty when the signature holds."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = text.split("\n")
    if len(lines) < 4 or not lines[2].startswith("trusted comment: "):
        return "not a minisign signature file", ""
    trusted = lines[2][len("trusted comment: ") :]
    try:
        blob = base64.b64decode(lines[1], validate=True)
        global_sig = base64.b64decode(lines[3], validate=True)
    except ValueError:
        return "minisign signature is not valid base64", trusted
    if len(blob) != 74 or blob[:2] not in (b"ED", b"Ed"):
        return "malformed minisign signature", trusted
    if blob[2:10] != key.minisign_key_id:
        return (
            f"signed by minisign key id {blob[2:10][::-1].hex().upper()}, "
            f"not {key.minisign_key_id_hex} ({key.fingerprint})",
            trusted,
        )
    sig = blob[10:]
    signed = _prehash(message) if blob[:2] == b"ED" else message
    if not key.verify(sig, signed):
        return f"signature does not match the signed bytes (key {key.fingerprint})", trusted
    if not key.verify(global_sig, sig + trusted.encode()):
        return "the trusted comment was altered", trusted
    return "", trusted
