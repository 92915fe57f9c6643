"""SSHSIG signatures (OpenSSH ``PROTOCOL.sshsig``), checkable with ``ssh-keygen -Y verify``.

The namespace binds a signature to its purpose, so a seal signature cannot be replayed as
a custody-event signature or as a git commit signature.
"""

from __future__ import annotations

import base64
import hashlib
import struct

from chain_of_custody.seal.keys import SSH_KEY_TYPE, PublicKey, SigningKey, ssh_string

MAGIC = b"SSHSIG"
VERSION = 1
HASH_ALG = b"sha512"
BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"


class SshsigError(Exception):
    pass


def _signed_data(namespace: str, digest: bytes) -> bytes:
    return (
        MAGIC
        + ssh_string(namespace.encode())
        + ssh_string(b"")
        + ssh_string(HASH_ALG)
        + ssh_string(digest)
    )


def sign(key: SigningKey, message: bytes, namespace: str) -> str:
    digest = hashlib.sha512(message).digest()
    sig = key.sign(_signed_data(namespace, digest))
    blob = (
        MAGIC
        + struct.pack(">I", VERSION)
        + ssh_string(key.public.ssh_blob)
        + ssh_string(namespace.encode())
        + ssh_string(b"")
        + ssh_string(HASH_ALG)
        + ssh_string(ssh_string(SSH_KEY_TYPE) + ssh_string(sig))
    )
    b64 = base64.b64encode(blob).decode()
    lines = [b64[i : i + 70] for i in range(0, len(b64), 70)]
    return "\n".join([BEGIN, *lines, END]) + "\n"


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise SshsigError("signature blob is truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def string(self) -> bytes:
        return self.take(self.u32())


def parse(armored: str | bytes) -> tuple[PublicKey, str, bytes]:
    """The signer key, the namespace and the raw Ed25519 signature of an armored SSHSIG."""
    text = armored.decode("ascii", "replace") if isinstance(armored, bytes) else armored
    lines = [ln.strip() for ln in text.strip().splitlines()]
    if not lines or lines[0] != BEGIN or lines[-1] != END:
        raise SshsigError("not an armored SSH signature")
    try:
        blob = base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError:
        raise SshsigError("SSH signature is not valid base64") from None
    r = _Reader(blob)
    if r.take(6) != MAGIC or r.u32() != VERSION:
        raise SshsigError("not an SSHSIG version 1 blob")
    pub = r.string()
    namespace = r.string().decode("utf-8", "replace")
    r.string()
    if r.string() != HASH_ALG:
        raise SshsigError("unsupported SSHSIG hash algorithm (want sha512)")
    sig_blob = _Reader(r.string())
    pr = _Reader(pub)
    if pr.string() != SSH_KEY_TYPE or sig_blob.string() != SSH_KEY_TYPE:
        raise SshsigError("SSH signature is not ssh-ed25519")
    raw_pub = pr.string()
    sig = sig_blob.string()
    if len(raw_pub) != 32 or len(sig) != 64:
        raise SshsigError("malformed ssh-ed25519 key or signature")
    return PublicKey(raw_pub), namespace, sig


def verify(armored: str | bytes, message: bytes, namespace: str, key: PublicKey) -> str:
    """Empty string when the signature holds for ``key``; otherwise the reason it does not."""
    try:
        embedded, ns, sig = parse(armored)
    except SshsigError as exc:
        return str(exc)
    if ns != namespace:
        return f"namespace is {ns!r}, expected {namespace!r}"
    if embedded != key:
        return f"signed by {embedded.fingerprint}, not by {key.fingerprint}"
    if not key.verify(sig, _signed_data(namespace, hashlib.sha512(message).digest())):
        return f"signature does not match the signed bytes (key {key.fingerprint})"
    return ""
