"""The examiner's Ed25519 key and the public forms standard verifiers read.

One key, several verifiers: ``ssh-keygen -Y verify`` (OpenSSH public key), ``minisign -V``
(minisign public key), ``openssl pkeyutl`` (PEM). The private key is kept in the OpenSSH
private key format, passphrase-encrypted with bcrypt-pbkdf and aes256-ctr exactly as
``ssh-keygen`` writes it, so the examiner can use the same file with OpenSSH tools.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

SSH_KEY_TYPE = b"ssh-ed25519"
DEFAULT_KDF_ROUNDS = 16  # ssh-keygen's default; tests pass fewer


class KeyFileError(Exception):
    """A key file cannot be read: missing, malformed, wrong type or wrong passphrase."""


class WrongPassphrase(KeyFileError):
    pass


def ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


@dataclass(frozen=True)
class PublicKey:
    raw: bytes  # the 32-byte Ed25519 public key

    @property
    def ssh_blob(self) -> bytes:
        return ssh_string(SSH_KEY_TYPE) + ssh_string(self.raw)

    @property
    def fingerprint(self) -> str:
        """``SHA256:...`` as ``ssh-keygen -l`` prints it, the form lab records quote."""
        digest = hashlib.sha256(self.ssh_blob).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    @property
    def sha256_hex(self) -> str:
        return hashlib.sha256(self.ssh_blob).hexdigest()

    @property
    def minisign_key_id(self) -> bytes:
        """8 bytes; derived from the key so the same key always has the same id."""
        return hashlib.sha256(b"vmforensics-minisign-key-id" + self.raw).digest()[:8]

    @property
    def minisign_key_id_hex(self) -> str:
        return self.minisign_key_id[::-1].hex().upper()

    def openssh(self, comment: str = "") -> str:
        text = "ssh-ed25519 " + base64.b64encode(self.ssh_blob).decode()
        return f"{text} {comment}".rstrip() + "\n"

    def pem(self) -> str:
        return (
            self._crypto()
            .public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def minisign(self) -> str:
        blob = b"Ed" + self.minisign_key_id + self.raw
        return (
            f"untrusted comment: minisign public key {self.minisign_key_id_hex}\n"
            + base64.b64encode(blob).decode()
            + "\n"
        )

    def allowed_signers(self, identity: str, namespaces: str = "") -> str:
        opts = f' namespaces="{namespaces}"' if namespaces else ""
        return f"{identity}{opts} {self.openssh().strip()}\n"

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            self._crypto().verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def _crypto(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.raw)


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> PublicKey:
        return PublicKey(
            self.private.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
        )

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    def openssh_private(self, passphrase: str | None, rounds: int = DEFAULT_KDF_ROUNDS) -> bytes:
        if passphrase:
            enc = (
                ser.PrivateFormat.OpenSSH.encryption_builder()
                .kdf_rounds(rounds)
                .build(passphrase.encode())
            )
        else:
            enc = ser.NoEncryption()
        return self.private.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.OpenSSH, enc)


def generate() -> SigningKey:
    return SigningKey(Ed25519PrivateKey.generate())


def from_seed(seed: bytes) -> SigningKey:
    return SigningKey(Ed25519PrivateKey.from_private_bytes(seed))


def write_key(
    key: SigningKey,
    path: Path,
    passphrase: str | None,
    *,
    comment: str = "",
    rounds: int = DEFAULT_KDF_ROUNDS,
) -> dict[str, Path]:
    """Write the private key (0600, never overwriting) and its public forms beside it."""
    path = Path(path)
    outputs = {
        "openssh": path.with_name(path.name + ".pub"),
        "pem": path.with_name(path.name + ".pub.pem"),
        "minisign": path.with_name(path.name + ".minisign.pub"),
    }
    for p in (path, *outputs.values()):
        if p.exists():
            raise FileExistsError(f"{p} already exists; refusing to overwrite a key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.openssh_private(passphrase, rounds))
    pub = key.public
    outputs["openssh"].write_text(pub.openssh(comment))
    outputs["pem"].write_text(pub.pem())
    outputs["minisign"].write_text(pub.minisign())
    return {"private": path, **outputs}


def is_encrypted(data: bytes) -> bool:
    """True when an OpenSSH private key needs a passphrase (cipher name is not 'none')."""
    try:
        body = b"".join(
            line.strip()
            for line in data.splitlines()
            if line.strip() and not line.startswith(b"-----")
        )
        blob = base64.b64decode(body)
    except ValueError:
        return False
    magic = b"openssh-key-v1\x00"
    if not blob.startswith(magic) or len(blob) < len(magic) + 4:
        return False
    (n,) = struct.unpack(">I", blob[len(magic) : len(magic) + 4])
    return blob[len(magic) + 4 : len(magic) + 4 + n] != b"none"


def load_key(path: Path, passphrase: str | None) -> SigningKey:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key {path}: {exc.strerror or exc}") from None
    if b"BEGIN OPENSSH PRIVATE KEY" not in data:
        raise KeyFileError(f"{path} is not an OpenSSH private key")
    if is_encrypted(data) and not passphrase:
        raise WrongPassphrase(f"key {path} is encrypted and no passphrase was given")
    try:
        key = ser.load_ssh_private_key(
            data, passphrase.encode() if passphrase and is_encrypted(data) else None
        )
    except ValueError as exc:
        if is_encrypted(data) and "checksum" in str(exc).lower():
            raise WrongPassphrase(f"wrong passphrase for key {path}") from None
        raise KeyFileError(f"cannot load key {path}: {exc}") from None
    except UnsupportedAlgorithm as exc:
        raise KeyFileError(f"cannot load key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"key {path} is not an Ed25519 key")
    return SigningKey(key)


def parse_public(text: str | bytes, *, where: str = "public key") -> PublicKey:
    """Read a public key in any form we write: OpenSSH line, PEM, or minisign."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise KeyFileError(f"{where} is not text") from None
    stripped = text.strip()
    try:
        if "BEGIN PUBLIC KEY" in stripped:
            key = ser.load_pem_public_key(stripped.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise KeyFileError(f"{where} is not an Ed25519 key")
            return PublicKey(key.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw))
        for line in stripped.splitlines():
            fields = line.split()
            if "ssh-ed25519" in fields:
                blob = base64.b64decode(fields[fields.index("ssh-ed25519") + 1])
                if blob[:15] != ssh_string(SSH_KEY_TYPE) or len(blob) != 51:
                    raise KeyFileError(f"{where}: malformed ssh-ed25519 key")
                return PublicKey(blob[19:])
            if line.startswith("untrusted comment:") or not line:
                continue
            blob = base64.b64decode(line)
            if len(blob) == 42 and blob[:2] == b"Ed":
                return PublicKey(blob[10:])
    except (ValueError, IndexError) as exc:
        raise KeyFileError(f"{where}: cannot parse: {exc}") from None
    raise KeyFileError(f"{where}: no Ed25519 public key found")


def load_public(path: Path) -> PublicKey:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read public key {path}: {exc.strerror or exc}") from None
    return parse_public(data, where=str(path))
