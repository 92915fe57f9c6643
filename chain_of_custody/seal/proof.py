"""Inclusion proofs: one payload file shown to belong to a sealed bag, without the others.

The proof carries the file's manifest line, its leaf index, the RFC 6962 audit path, and
the signed seal (whose signed header holds the Merkle root), so it can be checked with the
file, the proof and the examiner's public key alone.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from chain_of_custody.seal import merkle, sshsig
from chain_of_custody.seal.checks import Report
from chain_of_custody.seal.keys import KeyFileError, PublicKey, parse_public
from chain_of_custody.seal.sealfile import SealFormatError, parse, seal_id
from chain_of_custody.seal.verifymd import SEAL_NAMESPACE

FORMAT = "vmforensics-inclusion-proof-1"


class ProofError(Exception):
    pass


def make(bag: Path, member: str) -> dict[str, Any]:
    bag = Path(bag)
    rel = member
    candidate = Path(member)
    if candidate.is_absolute() or candidate.exists():
        try:
            rel = candidate.resolve().relative_to(bag.resolve()).as_posix()
        except ValueError:
            rel = member
    if not rel.startswith("data/"):
        rel = "data/" + rel
    try:
        lines = (bag / "manifest-sha256.txt").read_bytes().splitlines()
        seal_bytes = (bag / "seal" / "SEAL.sha512").read_bytes()
        sig = (bag / "seal" / "SEAL.sha512.sshsig").read_text()
        signer = (bag / "seal" / "signer.ossh.pub").read_text().strip()
    except OSError as exc:
        raise ProofError(f"{bag} is not a sealed bag: {exc.filename} missing") from None
    index = next(
        (
            i
            for i, ln in enumerate(lines)
            if ln.split(b"  ", 1)[-1].decode("utf-8", "replace") == rel
        ),
        None,
    )
    if index is None:
        raise ProofError(f"{rel} is not in the payload manifest of {bag.name}")
    leaf = lines[index]
    path = merkle.inclusion_path(lines, index)
    return {
        "format": FORMAT,
        "bag": bag.name,
        "path": rel,
        "sha256": leaf.split(b"  ", 1)[0].decode(),
        "leaf": leaf.decode("utf-8"),
        "leaf_index": index,
        "tree_size": len(lines),
        "audit_path": [h.hex() for h in path],
        "merkle_root_sha256": merkle.root(lines).hex(),
        "seal": seal_bytes.decode("utf-8"),
        "seal_id": seal_id(seal_bytes),
        "seal_sshsig": sig,
        "signer": signer,
    }


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def verify(proof: dict[str, Any], file: Path, signer: PublicKey | None = None) -> Report:
    report = Report(str(file))
    if not isinstance(proof, dict) or proof.get("format") != FORMAT:
        report.fail(
            "proof",
            "not a vmforensics inclusion proof",
            found=str(proof.get("format") if isinstance(proof, dict) else type(proof).__name__),
        )
        return report
    try:
        sha = _file_sha256(file)
        path = str(proof["path"])
        index = int(proof["leaf_index"])
        size = int(proof["tree_size"])
        audit = [bytes.fromhex(h) for h in proof["audit_path"]]
        seal_bytes = str(proof["seal"]).encode("utf-8")
        claimed_root = str(proof["merkle_root_sha256"])
    except OSError as exc:
        raise ProofError(f"cannot read {file}: {exc.strerror}") from None
    except (KeyError, ValueError, TypeError) as exc:
        report.fail("proof", f"malformed proof: {exc}")
        return report
    if sha != proof.get("sha256"):
        report.fail(
            "proof",
            "the file's SHA-256 differs from the proven one",
            file=str(file),
            expected=str(proof.get("sha256")),
            found=sha,
        )
    leaf = f"{sha}  {path}".encode()
    root = merkle.root_from_path(leaf, index, size, audit)
    if root is None or root.hex() != claimed_root:
        report.fail(
            "merkle",
            "the audit path does not lead from this file and path to the Merkle root",
            file=path,
            expected=claimed_root,
            found=None if root is None else root.hex(),
        )
    else:
        report.add(
            "merkle", True, f"leaf {index} of {size} leads to root {claimed_root}", file=path
        )
    try:
        seal = parse(seal_bytes)
    except SealFormatError as exc:
        report.fail("seal", str(exc))
        return report
    report.seal_id = seal_id(seal_bytes)
    if seal.fields.get("merkle-root-sha256") != claimed_root or seal.fields.get(
        "merkle-tree-size"
    ) != str(size):
        report.fail(
            "seal",
            "the seal holds another Merkle root or size",
            expected=f"{claimed_root} ({size})",
            found=f"{seal.fields.get('merkle-root-sha256')} "
            f"({seal.fields.get('merkle-tree-size')})",
        )
    try:
        embedded = parse_public(str(proof.get("signer", "")), where="proof signer")
    except KeyFileError as exc:
        report.fail("signer", str(exc))
        embedded = None
    key = signer or embedded
    report.pinned = signer is not None
    if key is None:
        return report
    report.signer_fingerprint = key.fingerprint
    why = sshsig.verify(str(proof.get("seal_sshsig", "")), seal_bytes, SEAL_NAMESPACE, key)
    report.add("signature", not why, why or f"the seal is signed by {key.fingerprint}")
    return report
