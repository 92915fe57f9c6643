"""Parser records → artifact lines of the output contract (schema version 1).

Ids are stable: '<type>-' + the first 16 hex digits of SHA-256 over
``type|source|evidence_path|locator|offset|discriminator`` (DESIGN.md, schema), so the
same case scanned again gives the same ids and two runs diff cleanly.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Iterable
from typing import Any

from parsers.records import AudioRecord, FindingRecord, ProblemRecord, VoicemailRecord
from vmforensics.exposure import exposure_of, package_of
from vmforensics.severity import FINDINGS, severity

# The error stages of the output contract (artifacts.schema.json).
STAGES = frozenset({"open", "acquire", "decrypt", "parse", "carve", "recover", "store", "verify"})


def artifact_id(
    type_: str,
    source: str,
    path: str,
    locator: str | None,
    offset: int | None,
    discriminator: str = "",
) -> str:
    key = "|".join(
        [type_, source, path, locator or "", "" if offset is None else str(offset), discriminator]
    )
    return f"{type_}-{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}"


def jsonable(value: Any) -> Any:
    """SQLite and plist values as JSON: BLOBs as {"hex": ...}, NaN as null."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"hex": bytes(value).hex()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def _base(
    type_: str,
    sid: str,
    path: str,
    origin: str | None,
    locator: str | None,
    offset: int | None,
    discriminator: str = "",
) -> dict[str, Any]:
    return {
        "type": type_,
        "id": artifact_id(type_, sid, path, locator, offset, discriminator),
        "source": sid,
        "evidence_path": path,
        "origin_path": origin,
        "locator": locator,
        "offset": offset,
    }


def audio_line(rec: AudioRecord, sid: str, origin: str | None, source_kind: str) -> dict[str, Any]:
    exposure = exposure_of(rec.path, source_kind)
    line = _base("audio", sid, rec.path, origin, rec.locator, rec.offset)
    line.update(
        {
            "length": rec.length,
            "container": rec.container,
            "codec": rec.codec,
            "protection": rec.protection,
            "method": rec.method,
            "key_path": rec.key_path,
            "sha256": rec.sha256,
            "size": rec.size,
            "package": rec.package or package_of(rec.path),
            "truncated": rec.truncated,
            "decodes": rec.decodes,
            "duration_s": _round(rec.duration_s),
            "exposure": exposure,
            "severity": severity(exposure, rec.protection),
        }
    )
    for key in ("sample_rate", "channels"):
        if key in rec.extra:
            line[key] = rec.extra[key]
    return line


def voicemail_line(
    rec: VoicemailRecord, sid: str, origin: str | None, audio_ids: list[str]
) -> dict[str, Any]:
    line = _base("voicemail", sid, rec.path, origin, rec.locator, rec.offset)
    line.update(
        {
            "platform": rec.platform,
            "caller": _text(rec.caller),
            "callee": _text(rec.callee),
            "received_utc": rec.received_utc,
            "received_raw": jsonable(rec.received_raw),
            "duration_s": _round(rec.duration_s),
            "transcript": _text(rec.transcript),
            "read": rec.read,
            "deleted": rec.deleted,
            "trashed": rec.trashed,
            "trashed_utc": rec.trashed_utc,
            "trashed_raw": jsonable(rec.trashed_raw),
            "recovered": rec.recovered,
            "confidence": rec.confidence,
            "package": rec.package or package_of(rec.path),
            "audio_ids": audio_ids,
            "row": jsonable(rec.extra),
        }
    )
    return line


def finding_line(
    rec: FindingRecord, sid: str, origin: str | None, source_kind: str = ""
) -> dict[str, Any]:
    line = _base("finding", sid, rec.path, origin, rec.locator, rec.offset, rec.code)
    line.update(
        {
            "severity": FINDINGS.get(rec.code, rec.severity),
            "code": rec.code,
            "title": rec.title,
            "detail": rec.detail,
            "key_path": rec.key_path,
            "package": rec.package or package_of(rec.path),
            "exposure": exposure_of(rec.path, source_kind),
        }
    )
    return line


def error_line(
    path: str,
    stage: str,
    message: str,
    sid: str,
    *,
    offset: int | None = None,
    locator: str | None = None,
    origin: str | None = None,
) -> dict[str, Any]:
    if stage not in STAGES:  # the contract's vocabulary; keep what the caller said
        stage, message = "parse", f"[{stage}] {message}"
    line = _base("error", sid, path, origin, locator, offset, f"{stage}|{message}")
    line.update({"stage": stage, "message": message})
    return line


def problem_line(rec: ProblemRecord, sid: str, origin: str | None) -> dict[str, Any]:
    return error_line(
        rec.path, rec.stage, rec.message, sid, offset=rec.offset, locator=rec.locator, origin=origin
    )


def sort_key(line: dict[str, Any]) -> tuple[Any, ...]:
    sid = line.get("source", "S0")
    return (
        int(sid[1:]) if sid[1:].isdigit() else 0,
        line.get("evidence_path", ""),
        -1 if line.get("offset") is None else line["offset"],
        line["type"],
        line["id"],
    )


def dedupe_sorted(lines: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for line in lines:
        seen.setdefault(line["id"], line)
    return sorted(seen.values(), key=sort_key)


def encode_line(line: dict[str, Any]) -> bytes:
    return json.dumps(line, ensure_ascii=False, sort_keys=False).encode() + b"\n"


def _text(value: Any) -> str | None:
    """A text field as the schema wants it, whatever type the row held: SQLite keeps a
    BLOB or an INTEGER where a phone number belongs, and one such row must not end the run."""
    if value is None or isinstance(value, str):
        return jsonable(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    return str(value)


def _round(value: float | None) -> float | None:
    if value is None or not math.isfinite(float(value)):
        return None  # JSON has no Infinity/NaN (SQLite stores 9e999 as +Infinity)
    return round(float(value), 3)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
