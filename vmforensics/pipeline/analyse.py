"""Stored files → records (parsers chosen by the registry, audio carved everywhere) →
artifact lines with exposure, severity and links between voicemail and audio.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, BinaryIO, cast

from parsers import protection, registry
from parsers.audio import carve as audio_carve
from parsers.base import Item
from parsers.records import AudioRecord, FindingRecord, ProblemRecord, VoicemailRecord
from vmforensics.artifacts import (
    audio_line,
    error_line,
    finding_line,
    problem_line,
    voicemail_line,
)
from vmforensics.case import Case
from vmforensics.context import ScanContext
from vmforensics.pipeline.carving import carve_paths
from vmforensics.progress import Progress

HEAD = 512


def run_parsers(ctx: ScanContext, sid: str, progress: Progress) -> list[object]:
    specs = registry.load()
    records: list[object] = []
    items = ctx.items()
    progress.stage(f"{sid}: parsing", len(items))
    for item in items:
        with item.open() as f:
            head = f.read(HEAD)
        for spec in specs:
            if not spec.matches(item.path, head):
                continue
            try:
                records.extend(spec.func(item, ctx))
            except Exception as exc:  # a parser bug is an error line, not a crash
                message = f"parser {spec.name} failed: {type(exc).__name__}: {exc}"
                records.append(ProblemRecord(item.path, "parse", message))
        progress.advance()
    return records


def recover_protected(ctx: ScanContext, sid: str, progress: Progress) -> list[object]:
    """Weakly protected audio (encodings, XOR, AES with keys found in the same source)."""
    progress.stage(f"{sid}: undoing weak protection", None)
    try:
        return list(protection.analyse(ctx))
    except Exception as exc:  # a bug here must not lose the rest of the source
        return [ProblemRecord("", "recover", f"protection analysis failed: {exc}")]


def carve_items(items: list[Item], sid: str, progress: Progress) -> list[object]:
    by_sha: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_sha[item.sha256].append(item)
    firsts = {str(group[0].local_path): group for group in by_sha.values()}
    progress.stage(f"{sid}: carving", len(firsts))
    records: list[object] = []
    for local, hits, failure in carve_paths(firsts):
        for item in firsts[local]:
            if failure:
                records.append(ProblemRecord(item.path, "carve", f"carver failed: {failure}"))
            records.extend(audio_carve.to_record(hit, item.path) for hit in hits)
        progress.advance()
    return records


def to_lines(
    case: Case,
    records: list[object],
    sid: str,
    ctx: ScanContext,
    origins: dict[str, str | None],
    source_kind: str,
    derived_out: Path,
    in_place: dict[str, Path] | None = None,
) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    audio_by_path: dict[str, list[dict[str, Any]]] = defaultdict(list)
    audio_records = [r for r in records if isinstance(r, AudioRecord)]
    # bytes this source already carries as entries; the rest is derived (once per digest)
    listed = {item.sha256 for item in ctx.items()}
    with open(derived_out, "w", encoding="utf-8") as derived:
        for audio in _prefer_parsers(audio_records):
            line = audio_line(audio, sid, origins.get(audio.path), source_kind)
            _keep_audio_bytes(case, audio, ctx, line, derived, in_place or {}, listed)
            audio_by_path[audio.path].append(line)
            lines.append(line)
    for rec in records:
        if isinstance(rec, VoicemailRecord):
            lines.append(voicemail_line(rec, sid, origins.get(rec.path), _link(rec, audio_by_path)))
        elif isinstance(rec, FindingRecord):
            lines.append(finding_line(rec, sid, origins.get(rec.path), source_kind))
        elif isinstance(rec, ProblemRecord):
            lines.append(problem_line(rec, sid, origins.get(rec.path)))
    return lines


def _prefer_parsers(records: list[AudioRecord]) -> list[AudioRecord]:
    """One record per place: a parser's (which knows the protection) over the carver's."""
    chosen: dict[tuple[str, str | None, int | None], AudioRecord] = {}
    for rec in records:
        key = (rec.path, rec.locator, rec.offset)
        current = chosen.get(key)
        if current is None or (current.protection == "none" and rec.protection != "none"):
            chosen[key] = rec
    return list(chosen.values())


def _keep_audio_bytes(
    case: Case,
    rec: AudioRecord,
    ctx: ScanContext,
    line: dict[str, Any],
    derived: Any,
    in_place: dict[str, Path],
    listed: set[str],
) -> None:
    """Store the exact audio bytes (carved slice or recovered form) and list them in
    derived.jsonl, which is what a bag carries beside the entries: so also when an earlier
    scan or another source already put the same bytes in the store."""
    if rec.sha256 in listed:
        return
    listed.add(rec.sha256)
    store = case.store
    sha256, size = rec.sha256, rec.size
    if not store.has(rec.sha256):
        if rec.data is not None:
            obj = store.ingest_bytes(rec.data)
        else:
            item = ctx.get(rec.path)
            source_file = item.local_path if item is not None else in_place.get(rec.path)
            if source_file is None or rec.offset is None:
                return
            with open(source_file, "rb") as f:  # streamed: a slice may be GiBs
                f.seek(rec.offset)
                obj = store.ingest(cast(BinaryIO, _Slice(f, rec.size)))
        sha256, size = obj.sha256, obj.size
    derived.write(
        json.dumps(
            {
                "sha256": sha256,
                "size": size,
                "artifact_id": line["id"],
                "kind": "audio",
                "from_evidence_path": rec.path,
                "offset": rec.offset,
                "method": rec.method,
            }
        )
        + "\n"
    )


class _Slice:
    """``size`` bytes of a file from where it stands, read in pieces."""

    def __init__(self, f: Any, size: int) -> None:
        self._f, self._left = f, size

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._f.read(n)
        self._left -= len(data)
        return data


def _link(rec: VoicemailRecord, audio_by_path: dict[str, list[dict[str, Any]]]) -> list[str]:
    ids: list[str] = []
    for ref in rec.audio_refs:
        for line in audio_by_path.get(ref.path, []):
            if ref.locator is not None and line.get("locator") != ref.locator:
                continue
            if ref.offset is not None and line.get("offset") != ref.offset:
                continue
            ids.append(line["id"])
    return ids


def raw_image_error(path: str, sid: str, message: str) -> dict[str, Any]:
    return error_line(path, "carve", message, sid)
