"""Build, seal and sign one bag; optionally export it as a deterministic tar under age.

Order matters and is the chain of proof: payload (copied and hashed) → payload manifests
and Merkle root → the "sealed" custody event (appended by the caller to the case log and
included here) → metadata → tag manifests → SEAL over the tag manifests → signatures.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from chain_of_custody.seal import casegraph, dfxml, envelope, merkle, minisig, sshsig, tarball
from chain_of_custody.seal.bag import BagWriter, human_size, one_line
from chain_of_custody.seal.keys import SigningKey
from chain_of_custody.seal.names import safe_component
from chain_of_custody.seal.sealfile import Seal, seal_id
from chain_of_custody.seal.verifymd import CUSTODY_NAMESPACE, SEAL_NAMESPACE, render

FILE_MAP_COLUMNS = (
    "bag_path",
    "role",
    "kind",
    "size",
    "sha256_read",
    "sha256_bag",
    "sha1",
    "md5",
    "mtime",
    "evidence_path",
    "origin_path",
    "note",
)


@dataclass(frozen=True)
class PayloadItem:
    rel: str  # path under data/, built with SafeNamer
    open: Callable[[], BinaryIO]
    expected_sha256: str | None
    row: dict[str, Any]  # file-map columns: role, kind, evidence_path, origin_path, mtime, ...


@dataclass
class BagRequest:
    name: str
    case_id: str
    source_id: str
    source_kind: str
    source_location: str
    examiner: str
    tool_name: str
    tool_version: str
    sealed_utc: str
    acquired_start: str | None = None
    acquired_end: str | None = None
    source_hashes: dict[str, str] = field(default_factory=dict)
    payload: list[PayloadItem] = field(default_factory=list)
    unpayloaded: list[dict[str, Any]] = field(default_factory=list)  # file-map rows only
    metadata: dict[str, bytes] = field(default_factory=dict)  # name under metadata/ -> bytes
    bag_info: list[tuple[str, str]] = field(default_factory=list)
    bag_count: tuple[int, int] | None = None


@dataclass(frozen=True)
class PayloadSummary:
    bag: str
    oxum: str
    merkle_root: str
    merkle_size: int
    manifest_sha256: str  # SHA-256 of manifest-sha256.txt


@dataclass(frozen=True)
class SealResult:
    path: Path
    seal_id: str
    merkle_root: str
    oxum: str
    custody_head: str
    custody_events: int


# Given the payload summary, the caller appends the "sealed" event to the case log and
# returns (genesis bytes, log bytes up to and including that event).
CustodyHook = Callable[[PayloadSummary], tuple[bytes, bytes]]


def _escape(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return "".join(
        f"%{ord(c):02X}" if c in "%\\" or ord(c) < 0x20 or ord(c) == 0x7F else c for c in text
    )


def file_map(rows: list[dict[str, Any]]) -> bytes:
    lines = ["\t".join(FILE_MAP_COLUMNS)]
    for row in sorted(
        rows, key=lambda r: (str(r.get("bag_path") or "~"), str(r.get("evidence_path")))
    ):
        lines.append("\t".join(_escape(row.get(c)) for c in FILE_MAP_COLUMNS))
    return ("\n".join(lines) + "\n").encode()


def identity_for(examiner: str) -> str:
    return safe_component(examiner or "examiner")


def seal_bag(req: BagRequest, out_dir: Path, key: SigningKey, custody: CustodyHook) -> SealResult:
    """Write and seal ``out_dir/<req.name>``; a bag that fails half way is removed."""
    root = Path(out_dir) / req.name
    w = BagWriter(root)
    try:
        return _seal(req, w, key, custody)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _seal(req: BagRequest, w: BagWriter, key: SigningKey, custody: CustodyHook) -> SealResult:
    root = w.root
    rows: list[dict[str, Any]] = []
    files: list[casegraph.GraphFile] = []
    dfx: list[dfxml.DfxmlFile] = []
    for item in req.payload:
        with item.open() as stream:
            rec = w.add_payload(item.rel, stream, expected_sha256=item.expected_sha256)
        rows.append(
            {
                **item.row,
                "bag_path": rec.path,
                "size": rec.size,
                "sha256_read": rec.read_sha256,
                "sha256_bag": rec.sha256,
            }
        )
        files.append(
            casegraph.GraphFile(
                rec.path, rec.size, rec.sha256, rec.sha512, item.row.get("evidence_path")
            )
        )
        dfx.append(
            dfxml.DfxmlFile(rec.path, rec.size, rec.sha256, rec.sha512, item.row.get("mtime"))
        )
    rows.extend(req.unpayloaded)
    w.write_payload_manifests()
    leaves = w.manifest_lines("sha256")
    root_hex = merkle.root(leaves).hex()
    manifest_sha = envelope.sha256_file(root / "manifest-sha256.txt")
    summary = PayloadSummary(req.name, w.oxum, root_hex, len(leaves), manifest_sha)

    genesis, log = custody(summary)
    log_lines = [ln for ln in log.split(b"\n") if ln]
    if not log_lines or json.loads(log_lines[-1]).get("event") != "sealed":
        raise ValueError("the custody hook must return the log ending with the sealed event")
    head_hash = hashlib.sha256(log_lines[-1]).hexdigest()
    head_seq = len(log_lines)
    events = [json.loads(ln) for ln in log_lines]
    w.write_tag("custody/genesis.json", genesis)
    w.write_tag("custody/custody.jsonl", b"".join(ln + b"\n" for ln in log_lines))

    w.write_bagit_txt()
    pub = key.public
    info: list[tuple[str, str]] = [
        *req.bag_info,
        ("External-Identifier", f"{req.case_id}/{req.source_id}"),
        (
            "External-Description",
            f"vmforensics sealed bag: {req.source_kind} source {req.source_id} "
            f"of case {req.case_id}",
        ),
        ("Bagging-Date", req.sealed_utc[:10]),
        ("Bag-Software-Agent", f"{req.tool_name} {req.tool_version}"),
        ("Payload-Oxum", w.oxum),
        ("Bag-Size", human_size(int(w.oxum.split(".")[0]))),
        ("Bag-Group-Identifier", req.case_id),
    ]
    if req.bag_count:
        info.append(("Bag-Count", f"{req.bag_count[0]} of {req.bag_count[1]}"))
    info += [
        ("Contact-Name", req.examiner),
        ("VMF-Case-ID", req.case_id),
        ("VMF-Source-ID", req.source_id),
        ("VMF-Source-Type", req.source_kind),
        ("VMF-Acquisition-Start-UTC", req.acquired_start or ""),
        ("VMF-Acquisition-End-UTC", req.acquired_end or ""),
        ("VMF-Sealed-UTC", req.sealed_utc),
        ("VMF-Tool", f"{req.tool_name} {req.tool_version}"),
        ("VMF-Examiner", req.examiner),
        ("VMF-Signer-Key-SHA256", pub.fingerprint),
        ("VMF-Merkle-Root-SHA256", root_hex),
    ]
    w.write_bag_info(info)

    meta = dict(req.metadata)
    meta["file-map.tsv"] = file_map(rows)
    meta["merkle.json"] = (
        json.dumps(
            {
                "algorithm": "RFC 6962 SHA-256",
                "leaves": "lines of manifest-sha256.txt without newline",
                "root_sha256": root_hex,
                "tree_size": len(leaves),
            },
            sort_keys=True,
            indent=1,
        )
        + "\n"
    ).encode()
    meta["case.jsonld"] = casegraph.build(
        casegraph.GraphInput(
            case_id=req.case_id,
            bag_name=req.name,
            source_id=req.source_id,
            source_kind=req.source_kind,
            source_location=req.source_location,
            examiner=req.examiner,
            tool_name=req.tool_name,
            tool_version=req.tool_version,
            acquired_start=req.acquired_start,
            acquired_end=req.acquired_end,
            source_hashes=req.source_hashes,
            files=files,
            events=events,
        )
    )
    meta["dfxml.xml"] = dfxml.build(
        bag_name=req.name,
        tool_name=req.tool_name,
        tool_version=req.tool_version,
        start_time=req.sealed_utc,
        source=req.source_location,
        files=dfx,
    )
    for name, data in sorted(meta.items()):
        w.write_tag(f"metadata/{name}", data)
    identity = identity_for(req.examiner)
    w.write_tag(
        "VERIFY.md",
        render(
            bag=req.name,
            identity=identity,
            fingerprint=pub.fingerprint,
            minisign_id=pub.minisign_key_id_hex,
            payload_files=len(w.payload),
        ),
    )
    tagman = w.write_tag_manifests()
    seal = Seal(
        {
            "case": req.case_id,
            "source": req.source_id,
            "bag": req.name,
            "sealed-utc": req.sealed_utc,
            "payload-oxum": w.oxum,
            "merkle-root-sha256": root_hex,
            "merkle-tree-size": str(len(leaves)),
            "custody-head": f"{head_seq} {head_hash}",
            "signer": pub.fingerprint,
        },
        [
            (hashlib.sha512(tagman[n]).hexdigest(), n, 0)
            for n in ("tagmanifest-sha256.txt", "tagmanifest-sha512.txt")
        ],
    )
    seal_bytes = seal.render()
    sdir = root / "seal"
    sdir.mkdir()
    (sdir / "SEAL.sha512").write_bytes(seal_bytes)
    (sdir / "SEAL.sha512.sshsig").write_text(sshsig.sign(key, seal_bytes, SEAL_NAMESPACE))
    trusted = one_line(
        f"case {req.case_id} | source {req.source_id} | sealed {req.sealed_utc} | "
        f"merkle-root-sha256 {root_hex}"
    )
    (sdir / "SEAL.sha512.minisig").write_text(
        minisig.sign(key, seal_bytes, trusted, untrusted=f"vmforensics seal of {req.name}")
    )
    (sdir / "signer.ossh.pub").write_text(pub.openssh(identity))
    (sdir / "signer.pub.pem").write_text(pub.pem())
    (sdir / "signer.minisign.pub").write_text(pub.minisign())
    (sdir / "allowed_signers").write_text(
        pub.allowed_signers(identity, f"{SEAL_NAMESPACE},{CUSTODY_NAMESPACE}")
    )
    return SealResult(root, seal_id(seal_bytes), root_hex, w.oxum, head_hash, head_seq)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    sha256: str
    sha256_file: Path
    recipients: list[str]


def export(
    bag: Path, recipients: list[envelope.Recipient], mtime: int, out: Path | None = None
) -> ExportResult:
    """Write ``<bag>.tar.age`` and ``<bag>.tar.age.sha256`` beside the bag."""
    bag = Path(bag)
    target = out or bag.with_name(bag.name + ".tar.age")
    # The tar is written into a pipe that age reads from: no plaintext tar lands on disk.
    enc = open(target, "xb")  # never replaces an existing package
    r_fd, w_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with open(w_fd, "wb") as sink:
                tarball.write_tar(bag, sink, mtime)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=produce, name="tar-writer", daemon=True)
    worker.start()
    try:
        with enc, open(r_fd, "rb") as source:
            try:
                envelope.encrypt(source, enc, recipients)
            finally:
                while source.read(1 << 20):  # let the writer finish if age stopped early
                    pass
                worker.join()
        if failure:
            raise failure[0]
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    digest = envelope.sha256_file(target)
    sums = target.with_name(target.name + ".sha256")
    sums.write_text(f"{digest}  {target.name}\n")
    return ExportResult(target, digest, sums, [r.label for r in recipients])
