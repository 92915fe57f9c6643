"""Sealed evidence packages: BagIt 1.0 bags signed so that standard tools verify them.

The chain of proof: Ed25519 signatures (SSHSIG for ``ssh-keygen -Y verify``, minisign) →
``seal/SEAL.sha512`` (``sha512sum`` format, with the Merkle root and custody head in signed
comment lines) → tag manifests → payload manifests, metadata and custody log → payload.
Custody after sealing goes to a signed sidecar chain beside the bag. Transport: a
deterministic tar encrypted with age. The design and its reasons: custody.md section 9.

This package never imports ``acquisition``, ``parsers`` or ``vmforensics``.
"""

from chain_of_custody.seal.checks import Check, Report
from chain_of_custody.seal.envelope import Recipient, load_identities, parse_recipients
from chain_of_custody.seal.keys import (
    KeyFileError,
    PublicKey,
    SigningKey,
    WrongPassphrase,
    generate,
    load_key,
    load_public,
    parse_public,
    write_key,
)
from chain_of_custody.seal.names import SafeNamer, safe_component
from chain_of_custody.seal.package import (
    BagRequest,
    ExportResult,
    PayloadItem,
    PayloadSummary,
    SealResult,
    export,
    seal_bag,
)
from chain_of_custody.seal.verify import Unopenable, package_name, verify_bag, verify_path

__all__ = [
    "BagRequest",
    "Check",
    "ExportResult",
    "KeyFileError",
    "PayloadItem",
    "PayloadSummary",
    "PublicKey",
    "Recipient",
    "Report",
    "SafeNamer",
    "SealResult",
    "SigningKey",
    "Unopenable",
    "WrongPassphrase",
    "export",
    "generate",
    "load_identities",
    "load_key",
    "load_public",
    "package_name",
    "parse_public",
    "parse_recipients",
    "safe_component",
    "seal_bag",
    "verify_bag",
    "verify_path",
    "write_key",
]
