"""The scan pipeline: open → ingest (copy + hash) → parse and carve → lines → case.

One source at a time; a source that cannot be opened joins nothing (no id, no lines,
nothing stored) and its message names it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acquisition.base import Source
from acquisition.detect import open_source
from acquisition.errors import AcquisitionError, PasswordRequired
from chain_of_custody.hashing import hash_file
from chain_of_custody.listing import Listing, snapshot
from parsers.audio import carve as audio_carve
from vmforensics.artifacts import dedupe_sorted, encode_line, error_line
from vmforensics.case import Case
from vmforensics.clock import now_iso
from vmforensics.context import ScanContext
from vmforensics.errors import EXIT_INPUT, EXIT_OK
from vmforensics.pipeline.analyse import (
    carve_items,
    recover_protected,
    run_parsers,
    to_lines,
)
from vmforensics.pipeline.ingest import ingest
from vmforensics.pipeline.raw import carve_image
from vmforensics.progress import Progress


@dataclass
class ScanOptions:
    password: str | None = None
    legacy_hashes: bool = False
    verify_source: bool = False


@dataclass
class SourceResult:
    location: str
    exit_code: int = EXIT_OK
    message: str = ""
    sid: str | None = None
    kind: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    severities: dict[str, int] = field(default_factory=dict)
    needs_password: bool = False  # the input is encrypted and no password was given


def scan(
    case: Case, locations: list[str], opts: ScanOptions, progress: Progress
) -> list[SourceResult]:
    results = []
    try:
        for location in locations:
            results.append(scan_one(case, location, opts, progress))
        write_case_artifacts(case)
    finally:
        case.clean_tmp()
    return results


def scan_one(case: Case, location: str, opts: ScanOptions, progress: Progress) -> SourceResult:
    result = SourceResult(location)
    try:
        source = open_source(location, password=opts.password, workdir=case.tmp / "open")
        before = snapshot(location)
        source.open()
    except AcquisitionError as exc:
        result.exit_code, result.message = EXIT_INPUT, str(exc)
        result.needs_password = isinstance(exc, PasswordRequired)
        return result
    except OSError as exc:
        result.exit_code = EXIT_INPUT
        result.message = f"{location}: cannot be read ({exc.strerror or exc})"
        return result
    try:
        return _scan_opened(case, source, location, before, opts, progress, result)
    finally:
        source.close()


def acquire_one(
    case: Case, source: Source, spec: str, opts: ScanOptions, progress: Progress
) -> SourceResult:
    """A live device: open (connect, describe), then the same pipeline as ``scan``."""
    result = SourceResult(spec)
    try:
        source.open()
    except AcquisitionError as exc:
        result.exit_code, result.message = EXIT_INPUT, str(exc)
        result.needs_password = isinstance(exc, PasswordRequired)
        return result
    try:
        return _scan_opened(case, source, spec, None, opts, progress, result)
    finally:
        source.close()


def _scan_opened(
    case: Case,
    source: Source,
    location: str,
    before: Listing | None,
    opts: ScanOptions,
    progress: Progress,
    result: SourceResult,
) -> SourceResult:
    resolved = str(Path(location).resolve()) if before is not None else location
    existing = case.find_source(resolved, before.digest if before is not None else None)
    sid = existing["id"] if existing else case.next_source_id()
    result.sid, result.kind = sid, source.kind
    record = _source_record(sid, source, location, resolved, before, opts)
    case.upsert_source(record)
    case.save()
    case.event(
        "source-opened",
        {
            "source": sid,
            "kind": source.kind,
            "location": location,
            "listing_before_sha256": before.digest if before is not None else None,
            "password_provided": opts.password is not None,
            "rescan": existing is not None,
        },
    )
    sdir = case.source_dir(sid)
    try:
        lines = _analyse(case, source, sid, sdir, opts, progress, record)
    except KeyboardInterrupt:
        record.update(complete=False, ended_utc=now_iso())
        case.upsert_source(record)
        case.save()
        case.event("interrupted", {"source": sid, "detail": "scan interrupted by the user"})
        raise
    _finish(case, record, location, before, opts, lines, sdir, source)
    result.counts = _count(lines)
    result.severities = _severities(lines)
    return result


def _source_record(
    sid: str,
    source: Source,
    location: str,
    resolved: str,
    before: Listing | None,
    opts: ScanOptions,
) -> dict[str, Any]:
    return {
        "id": sid,
        "kind": _case_kind(source),
        "location": location,
        "location_resolved": resolved,
        "description": source.describe(),
        "hashes_before": _container_hashes(location, opts, source),
        "hashes_after": None,
        "listing_before": before.digest if before is not None else None,
        "listing_after": None,
        "listing_changes": [],
        "started_utc": now_iso(),
        "ended_utc": None,
        "complete": False,
        "password_provided": opts.password is not None,
    }


def _case_kind(source: Source) -> str:
    describe_kind = getattr(source, "case_kind", None)
    return str(describe_kind() if callable(describe_kind) else source.kind)


def _container_hashes(
    location: str, opts: ScanOptions, source: Source | None = None
) -> dict[str, str] | None:
    """Single-file containers are hashed whole; folders are covered by per-file hashes."""
    if not os.path.isfile(location) or (source is not None and source.kind == "raw-image"):
        return None  # folders: per-file hashes; raw images: hashed while carved
    algorithms = ("sha256", "sha1", "md5") if opts.legacy_hashes else ("sha256",)
    digests, size = hash_file(location, algorithms)
    return {**digests, "size": str(size)}


def _analyse(
    case: Case,
    source: Source,
    sid: str,
    sdir: Path,
    opts: ScanOptions,
    progress: Progress,
    record: dict[str, Any],
) -> list[dict[str, Any]]:
    got = ingest(case, source, sid, sdir / "entries.jsonl", progress)
    ctx = ScanContext(got.items, case.tmp / "parse", source.kind)
    records = run_parsers(ctx, sid, progress)
    records += carve_items(ctx.items(), sid, progress)
    records += recover_protected(ctx, sid, progress)
    in_place: dict[str, Path] = {}
    for ent in got.in_place:
        in_place[ent.path] = Path(ent.meta["in_place"])
        records += _carve_raw(ent, sid, opts, record, got.lines, progress)
    lines = got.lines + to_lines(
        case, records, sid, ctx, got.origins, source.kind, sdir / "derived.jsonl", in_place
    )
    record["entries"], record["files_stored"], record["bytes_stored"] = (
        got.entries,
        got.files,
        got.bytes,
    )
    return lines


def _carve_raw(
    ent: Any,
    sid: str,
    opts: ScanOptions,
    record: dict[str, Any],
    errors: list[dict[str, Any]],
    progress: Progress,
) -> list[object]:
    """A raw image: hashed and carved in the same pass over the file, both cores."""
    algorithms = ("sha256", "sha1", "md5") if opts.legacy_hashes else ("sha256",)
    progress.stage(f"{sid}: carving {ent.path} in place", ent.size)
    raw = carve_image(ent.meta["in_place"], algorithms, on_span=progress.advance)
    record["hashes_before"] = {**raw.digests, "size": str(raw.size)}
    for start, stop, why in raw.failures:
        errors.append(
            error_line(
                ent.path, "carve", f"bytes {start}-{stop} not carved: {why}", sid, offset=start
            )
        )
    return [audio_carve.to_record(hit, ent.path) for hit in raw.hits]


def _finish(
    case: Case,
    record: dict[str, Any],
    location: str,
    before: Listing | None,
    opts: ScanOptions,
    lines: list[dict[str, Any]],
    sdir: Path,
    source: Source,
) -> None:
    sid = record["id"]
    changes: list[str] = []
    if before is not None:
        after = snapshot(location)
        changes = before.diff(after)
        record["listing_after"] = after.digest
    for change in changes:
        lines.append(error_line("", "verify", f"source changed during the run: {change}", sid))
    if opts.verify_source and record["hashes_before"]:
        record["hashes_after"] = _container_hashes(location, opts)
        if record["hashes_after"] != record["hashes_before"]:
            lines.append(error_line("", "verify", "source hash differs after the run", sid))
    complete = getattr(source, "complete", True) is not False
    try:  # a device's description grows while it is read (received counts, interruption)
        record["description"] = source.describe()
    except Exception:
        pass
    if not complete:
        lines.append(
            error_line(
                "",
                "acquire",
                "acquisition INCOMPLETE: the source stopped "
                "before everything was received; what was received is kept",
                sid,
            )
        )
    lines = dedupe_sorted(lines)
    out = sdir / "artifacts.jsonl"
    with open(out, "wb") as f:
        for line in lines:
            f.write(encode_line(line))
    record.update(
        listing_changes=changes, ended_utc=now_iso(), complete=complete, counts=_count(lines)
    )
    case.upsert_source(record)
    case.save()
    case.event(
        "source-scanned" if complete else "incomplete",
        {
            "source": sid,
            "counts": _count(lines),
            "listing_after_sha256": record.get("listing_after"),
            "source_unchanged": not changes,
            "complete": complete,
            "artifacts_sha256": hash_file(out, ("sha256",))[0]["sha256"],
        },
    )


def write_case_artifacts(case: Case) -> None:
    """Rewrite DIR/artifacts.jsonl whole from every source's lines, sorted."""
    lines: list[dict[str, Any]] = []
    for src in case.sources():
        path = case.root / "sources" / src["id"] / "artifacts.jsonl"
        if path.is_file():
            with open(path, encoding="utf-8") as f:
                lines.extend(json.loads(line) for line in f if line.strip())
    tmp = case.artifacts.with_suffix(".jsonl.tmp")
    with open(tmp, "wb") as f:
        for line in dedupe_sorted(lines):
            f.write(encode_line(line))
    os.replace(tmp, case.artifacts)


def _count(lines: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in lines:
        counts[line["type"]] = counts.get(line["type"], 0) + 1
    return counts


def _severities(lines: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in lines:
        if line["type"] in ("audio", "finding"):
            out[line["severity"]] = out.get(line["severity"], 0) + 1
    return out
