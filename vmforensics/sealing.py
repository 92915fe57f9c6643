"""Seal a case folder: one signed BagIt bag per source, optionally exported under age.

This module reads the case (case.json, entries, derived objects, artifacts, custody log)
and drives ``chain_of_custody.seal``; the library knows nothing of the case layout. Every
time written comes from ``vmforensics.clock``, so ``SOURCE_DATE_EPOCH`` makes sealing
reproducible: same case, same key, same clock → byte-identical tar.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from chain_of_custody.seal import (
    BagRequest,
    PayloadItem,
    PayloadSummary,
    Recipient,
    SafeNamer,
    SigningKey,
    export,
    safe_component,
    seal_bag,
)
from chain_of_custody.seal import sidecar as sidecar_mod
from chain_of_custody.seal.bag import BagWriteError
from vmforensics import TOOL_NAME, __version__
from vmforensics.case import Case
from vmforensics.clock import from_unix, now_utc
from vmforensics.errors import InputError, UsageError, VerificationFailed, VmfError

TOOL = f"{TOOL_NAME} {__version__}"
_EXT = {
    c: f".{c}"
    for c in ("amr", "wav", "mp4", "3gp", "ogg", "caf", "flac", "mp3", "aiff", "qcp", "gsm", "txt")
}
NOT_ACQUIRED_COLUMNS = ("evidence_path", "origin_path", "stage", "offset", "message", "id")


@dataclass
class SealOutcome:
    source: str
    bag: Path
    seal_id: str
    merkle_root: str
    oxum: str
    package: Path | None = None
    package_sha256: str | None = None
    recipients: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "bag": str(self.bag),
            "seal_id": self.seal_id,
            "merkle_root_sha256": self.merkle_root,
            "payload_oxum": self.oxum,
            "package": str(self.package) if self.package else None,
            "package_sha256": self.package_sha256,
            "recipients": self.recipients,
        }


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                raise InputError(f"{path} line {number}: not JSON") from None
            if isinstance(obj, dict):
                out.append(obj)
    return out


def _tsv(value: Any) -> str:
    text = "" if value is None else str(value)
    return "".join(
        f"%{ord(c):02X}" if c in "%\\" or ord(c) < 0x20 or ord(c) == 0x7F else c for c in text
    )


def _mtime(entry: dict[str, Any]) -> str | None:
    times = entry.get("times") or {}
    value = times.get("mtime") if isinstance(times, dict) else None
    return value if isinstance(value, str) else from_unix(value)


def tool_sha256() -> str:
    """One hash over the tool's own source files (paths and contents), for accountability:
    the bag records exactly which code sealed it."""
    import hashlib

    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for pkg in ("vmforensics", "acquisition", "parsers", "chain_of_custody"):
        for path in sorted((root / pkg).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            h.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def bag_name(case_id: str, sid: str) -> str:
    return f"{safe_component(case_id)}_{sid}"


def _opener(path: Path) -> Callable[[], BinaryIO]:
    def open_() -> BinaryIO:
        try:
            return open(path, "rb")
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None

    return open_


def _source_request(
    case: Case,
    src: dict[str, Any],
    sealed_utc: str,
    include_images: bool,
    count: tuple[int, int],
    tool_hash: str,
) -> BagRequest:
    sid = str(src["id"])
    sdir = case.root / "sources" / sid
    store = case.store
    namer = SafeNamer()
    payload: list[PayloadItem] = []
    unpayloaded: list[dict[str, Any]] = []
    for entry in sorted(_jsonl(sdir / "entries.jsonl"), key=lambda e: str(e.get("evidence_path"))):
        ev = str(entry.get("evidence_path", ""))
        row = {
            "kind": entry.get("kind"),
            "size": entry.get("size"),
            "sha1": entry.get("sha1"),
            "md5": entry.get("md5"),
            "mtime": _mtime(entry),
            "evidence_path": ev,
            "origin_path": entry.get("origin_path"),
        }
        sha = entry.get("sha256")
        if entry.get("kind") == "file" and entry.get("stored") and sha:
            payload.append(
                PayloadItem(
                    rel=namer.name(ev, prefix=f"{sid}/original/"),
                    open=_opener(store.path_for(str(sha))),
                    expected_sha256=str(sha),
                    row={**row, "role": "original"},
                )
            )
        elif entry.get("kind") == "file" and src.get("kind") == "raw-image":
            hashes = src.get("hashes_before") or {}
            expected = sha or hashes.get("sha256")
            location = Path(str(src.get("location_resolved") or src.get("location")))
            if include_images:
                payload.append(
                    PayloadItem(
                        rel=namer.name(ev or location.name, prefix=f"{sid}/original/"),
                        open=_opener(location),
                        expected_sha256=str(expected) if expected else None,
                        row={**row, "role": "original (image)"},
                    )
                )
            else:
                unpayloaded.append(
                    {
                        **row,
                        "role": "reference",
                        "sha256_read": expected,
                        "note": "raw image referenced by hash; seal --include-images includes it",
                    }
                )
        else:
            unpayloaded.append(
                {
                    **row,
                    "role": "not-in-payload",
                    "sha256_read": sha,
                    "note": entry.get("link_target") or "",
                }
            )
    artifacts_path = sdir / "artifacts.jsonl"
    if artifacts_path.is_file():
        artifact_bytes = artifacts_path.read_bytes()
        artifacts = _jsonl(artifacts_path)
    else:
        artifacts = [a for a in _jsonl(case.artifacts) if a.get("source") == sid]
        artifact_bytes = b"".join(
            (json.dumps(a, ensure_ascii=False, sort_keys=True) + "\n").encode() for a in artifacts
        )
    by_id = {str(a.get("id")): a for a in artifacts}
    for d in sorted(
        _jsonl(sdir / "derived.jsonl"),
        key=lambda e: (str(e.get("kind")), str(e.get("sha256")), str(e.get("artifact_id"))),
    ):
        sha = str(d.get("sha256", ""))
        if not store.has(sha):
            raise InputError(f"derived object {sha} of {sid} is not in the evidence store")
        art = by_id.get(str(d.get("artifact_id")), {})
        ext = _EXT.get(str(art.get("container") or d.get("container") or ""), "")
        where = f"offset {d['offset']} " if d.get("offset") is not None else ""
        note = f"{where}{d.get('method') or ''} artifact {d.get('artifact_id') or ''}"
        payload.append(
            PayloadItem(
                rel=namer.name(
                    f"{d.get('kind') or 'derived'}/{sha[:16]}{ext}", prefix=f"{sid}/derived/"
                ),
                open=_opener(store.path_for(sha)),
                expected_sha256=sha,
                row={
                    "role": "derived",
                    "kind": d.get("kind"),
                    "size": d.get("size"),
                    "evidence_path": d.get("from_evidence_path"),
                    "note": " ".join(note.split()),
                },
            )
        )
    errors = [a for a in artifacts if a.get("type") == "error"]
    not_acquired = (
        "\t".join(NOT_ACQUIRED_COLUMNS)
        + "\n"
        + "".join("\t".join(_tsv(e.get(c)) for c in NOT_ACQUIRED_COLUMNS) + "\n" for e in errors)
    )
    header = {k: v for k, v in case.data.items() if k != "sources"}
    acquisition = {
        "case": header,
        "source": src,
        "artifact_counts": _counts(artifacts),
        "not_acquired": len(errors),
        "sealed_by": {"tool": TOOL, "tool_sha256": tool_hash, "sealed_utc": sealed_utc},
    }
    hashes = {k: str(v) for k, v in (src.get("hashes_before") or {}).items() if v}
    return BagRequest(
        name=bag_name(str(case.data.get("case_id") or case.root.name), sid),
        case_id=str(case.data.get("case_id") or case.root.name),
        source_id=sid,
        source_kind=str(src.get("kind", "unknown")),
        source_location=str(src.get("location", "")),
        examiner=str(case.data.get("examiner") or "unknown"),
        tool_name=TOOL_NAME,
        tool_version=__version__,
        sealed_utc=sealed_utc,
        acquired_start=src.get("started_utc"),
        acquired_end=src.get("ended_utc"),
        source_hashes=hashes,
        payload=payload,
        unpayloaded=unpayloaded,
        metadata={
            "acquisition.json": (
                json.dumps(acquisition, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
            ).encode(),
            "not-acquired.tsv": not_acquired.encode(),
            "artifacts.jsonl": artifact_bytes,
        },
        bag_count=count,
        bag_info=[
            *([("VMF-Exhibit", str(case.data["exhibit"]))] if case.data.get("exhibit") else []),
            ("VMF-Tool-SHA256", tool_hash),
        ],
    )


def _counts(artifacts: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in artifacts:
        t = str(a.get("type"))
        out[t] = out.get(t, 0) + 1
    return dict(sorted(out.items()))


def open_case(case_dir: Path) -> Case:
    if not (Path(case_dir) / "case.json").is_file():
        raise InputError(f"{case_dir} is not a vmforensics case (no case.json)")
    return Case.open_or_create(Path(case_dir), case_id=None, examiner=None)


def seal_case(
    case_dir: Path,
    out: Path,
    key: SigningKey,
    *,
    recipients: list[Recipient] | None = None,
    include_images: bool = False,
    sources: list[str] | None = None,
) -> list[SealOutcome]:
    case = open_case(case_dir)
    chosen = [s for s in case.sources() if not sources or s.get("id") in sources]
    if not chosen:
        raise UsageError(f"{case_dir}: no sources to seal")
    out = Path(out)
    names = [bag_name(str(case.data.get("case_id") or case.root.name), s["id"]) for s in chosen]
    for n in names:
        for p in (out / n, out / f"{n}.tar.age", out / f"{n}{sidecar_mod.SUFFIX}"):
            if p.exists():
                raise UsageError(f"{p} already exists; seal into a new --out folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {out}: {exc.strerror or exc}") from None
    outcomes = []
    tool_hash = tool_sha256()
    for i, src in enumerate(chosen, start=1):
        sealed_at = now_utc()
        sealed_utc = sealed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        req = _source_request(case, src, sealed_utc, include_images, (i, len(chosen)), tool_hash)

        def hook(summary: PayloadSummary, sid: str = str(src["id"])) -> tuple[bytes, bytes]:
            case.event(
                "sealed",
                {
                    "source": sid,
                    "bag": summary.bag,
                    "payload_oxum": summary.oxum,
                    "merkle_root_sha256": summary.merkle_root,
                    "merkle_tree_size": summary.merkle_size,
                    "manifest_sha256": summary.manifest_sha256,
                    "signer": key.public.fingerprint,
                },
            )
            return case.genesis.read_bytes(), case.custody.read_bytes()

        try:
            res = seal_bag(req, out, key, hook)
        except BagWriteError as exc:
            raise VerificationFailed(f"sealing {src['id']} stopped: {exc}") from None
        except OSError as exc:
            raise VmfError(
                f"sealing {src['id']} stopped writing {exc.filename or out}: {exc.strerror or exc}"
            ) from None
        outcome = SealOutcome(str(src["id"]), res.path, res.seal_id, res.merkle_root, res.oxum)
        if recipients:
            try:
                exp = export(res.path, recipients, int(sealed_at.timestamp()))
            except OSError as exc:
                raise VmfError(f"exporting {res.path.name} failed: {exc.strerror or exc}") from None
            detail = {
                "source": src["id"],
                "bag": res.path.name,
                "seal_id": res.seal_id,
                "package": exp.path.name,
                "ciphertext_sha256": exp.sha256,
                "recipients": exp.recipients,
            }
            case.event("exported", detail)
            sidecar_mod.append(
                sidecar_mod.sidecar_for(out, res.path.name),
                res.seal_id,
                key,
                event="exported",
                actor=str(case.data.get("examiner") or "unknown"),
                tool=TOOL,
                time_utc=sealed_utc,
                detail=detail,
            )
            outcome.package = exp.path
            outcome.package_sha256 = exp.sha256
            outcome.recipients = exp.recipients
        outcomes.append(outcome)
    return outcomes
