"""What the Findings screen shows, kept apart from widgets: reading artifacts.jsonl,
filtering and sorting rows, the detail text, the hex view and the WAV export."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vmforensics.case import Case

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4, None: 5}
# text markers so severity reads without colour (monochrome terminals, printouts)
SEVERITY_LABEL = {
    "critical": "!!! CRIT",
    "high": "!!  HIGH",
    "medium": "!   MED",
    "low": "    low",
    "info": "    info",
    None: "    -",
}
SEVERITY_STYLE = {
    "critical": "bold reverse red",
    "high": "bold red",
    "medium": "yellow",
    "low": "green",
    "info": "dim",
    None: "",
}
TYPES = ("audio", "voicemail", "finding", "error")
SEVERITIES = ("critical", "high", "medium", "low", "info")
HEX_BYTES = 256
_MAX_LINES = 200_000


def read_artifacts(case: Case) -> list[dict[str, Any]]:
    """Every line of DIR/artifacts.jsonl; a broken line becomes an error row, never an
    exception (the file may be mid-rewrite by another run)."""
    out: list[dict[str, Any]] = []
    try:
        f = open(case.artifacts, encoding="utf-8")
    except OSError:
        return out
    with f:
        for number, line in enumerate(f, start=1):
            if number > _MAX_LINES:
                break
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if not isinstance(obj, dict):
                obj = {
                    "type": "error",
                    "id": f"line-{number}",
                    "source": "",
                    "evidence_path": "artifacts.jsonl",
                    "message": f"line {number} is not a JSON object",
                }
            out.append(obj)
    return out


def summary(row: dict[str, Any]) -> str:
    kind = row.get("type")
    if kind == "audio":
        bits = [
            row.get("codec") or row.get("container"),
            row.get("protection"),
            row.get("exposure"),
        ]
        if row.get("duration_s") is not None:
            bits.append(f"{row['duration_s']}s")
        return " ".join(str(b) for b in bits if b)
    if kind == "voicemail":
        who = row.get("caller") or "unknown caller"
        return f"{who} {row.get('received_utc') or ''}".strip()
    if kind == "finding":
        return str(row.get("title") or row.get("code") or "")
    return str(row.get("message") or "")


def matches(row: dict[str, Any], kind: str | None, severity: str | None, text: str) -> bool:
    if kind and row.get("type") != kind:
        return False
    if severity and row.get("severity") != severity:
        return False
    if text:
        hay = " ".join(str(v) for v in row.values() if v is not None).lower()
        return text.lower() in hay
    return True


SORT_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "severity": lambda r: (SEVERITY_ORDER.get(r.get("severity"), 5), r.get("type", "")),
    "type": lambda r: (str(r.get("type")), SEVERITY_ORDER.get(r.get("severity"), 5)),
    "source": lambda r: (int(str(r.get("source") or "S0")[1:] or 0), str(r.get("evidence_path"))),
    "path": lambda r: (str(r.get("evidence_path")), r.get("offset") or 0),
    "what": lambda r: summary(r).lower(),
}


def linked_voicemail(rows: list[dict[str, Any]], audio_id: str) -> list[dict[str, Any]]:
    return [
        r for r in rows if r.get("type") == "voicemail" and audio_id in (r.get("audio_ids") or [])
    ]


def audio_bytes_path(case: Case, row: dict[str, Any]) -> Path | None:
    """The stored copy of an audio artifact's bytes (the store holds recovered audio
    under its own SHA-256), or None when only the containing entry was stored."""
    sha = row.get("sha256")
    if not isinstance(sha, str) or len(sha) != 64:
        return None
    path = case.store.path_for(sha)
    return Path(path) if Path(path).is_file() else None


def hex_view(path: Path, limit: int = HEX_BYTES) -> str:
    with open(path, "rb") as f:
        data = f.read(limit)
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{off:08x}  {hexes:<47}  {text}")
    return "\n".join(lines)


def detail_lines(
    case: Case, rows: list[dict[str, Any]], row: dict[str, Any]
) -> list[tuple[str, str]]:
    """(label, value) pairs for the detail pane, in reading order."""
    out: list[tuple[str, str]] = []

    def add(label: str, value: Any) -> None:
        if value is not None and value != "":
            out.append((label, str(value)))

    kind = row.get("type")
    add("type", kind)
    add("id", row.get("id"))
    add("severity", SEVERITY_LABEL.get(row.get("severity"), "").strip() or None)
    add("source", row.get("source"))
    add("evidence path", row.get("evidence_path"))
    add("origin path", row.get("origin_path"))
    add("locator", row.get("locator"))
    add("offset", row.get("offset"))
    add("length", row.get("length"))
    if kind == "audio":
        add("container", row.get("container"))
        add("codec", row.get("codec"))
        add("duration s", row.get("duration_s"))
        add("decodes", row.get("decodes"))
        add("truncated", row.get("truncated"))
        add("protection", row.get("protection"))
        add("method", row.get("method"))
        add("key found in", row.get("key_path"))
        add("exposure", row.get("exposure"))
        add("package", row.get("package"))
        add("sha256", row.get("sha256"))
        add("size", row.get("size"))
        for vm in linked_voicemail(rows, str(row.get("id"))):
            add("voicemail", f"{vm.get('id')} from {vm.get('caller')} at {vm.get('received_utc')}")
            add("transcript", vm.get("transcript"))
    elif kind == "voicemail":
        add("platform", row.get("platform"))
        add("caller", row.get("caller"))
        add("callee", row.get("callee"))
        add("received", row.get("received_utc"))
        add("received raw", row.get("received_raw"))
        add("duration s", row.get("duration_s"))
        add("deleted", row.get("deleted"))
        add("recovered", row.get("recovered"))
        add("read", row.get("read"))
        add("audio", ", ".join(row.get("audio_ids") or []) or None)
        add("transcript", row.get("transcript"))
    elif kind == "finding":
        add("code", row.get("code"))
        add("title", row.get("title"))
        add("detail", row.get("detail"))
        add("exposure", row.get("exposure"))
        add("key found in", row.get("key_path"))
    else:
        add("stage", row.get("stage"))
        add("message", row.get("message"))
    return out


class ExportError(Exception):
    pass


@dataclass
class Exported:
    path: Path
    sha256: str
    size: int


def export_wav(case: Case, row: dict[str, Any], out: Path) -> Exported:
    """Decode the stored audio with PyAV to 16-bit PCM WAV at ``out`` (a path the user
    named, possibly outside the case) and record an "exported" custody event."""
    if row.get("type") != "audio":
        raise ExportError("select an audio row to export")
    if row.get("protection") == "encrypted":
        raise ExportError("this audio is still encrypted: nothing to listen to")
    src = audio_bytes_path(case, row)
    if src is None:
        raise ExportError("the audio bytes are not in the evidence store")
    out = Path(out).expanduser()
    if out.exists():
        raise ExportError(f"{out} already exists; choose a new name")
    if not out.parent.is_dir():
        raise ExportError(f"folder {out.parent} does not exist")
    import av

    tmp = out.with_name(out.name + ".part")
    try:
        with av.open(str(src)) as inp:
            if not inp.streams.audio:
                raise ExportError("no audio stream in the stored bytes")
            stream = inp.streams.audio[0]
            rate = int(stream.rate or stream.codec_context.sample_rate or 8000)
            with av.open(str(tmp), "w", format="wav") as dst:
                ost = dst.add_stream("pcm_s16le", rate=rate, layout="mono")
                resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
                for frame in inp.decode(stream):
                    for f in resampler.resample(frame):
                        for packet in ost.encode(f):
                            dst.mux(packet)
                for f in resampler.resample(None):
                    for packet in ost.encode(f):
                        dst.mux(packet)
                for packet in ost.encode(None):
                    dst.mux(packet)
    except ExportError:
        tmp.unlink(missing_ok=True)
        raise
    except Exception as exc:  # a codec error is the user's message, not a traceback
        tmp.unlink(missing_ok=True)
        raise ExportError(f"cannot decode {row.get('evidence_path')}: {exc}") from None
    os.replace(tmp, out)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    size = out.stat().st_size
    case.event(
        "exported",
        {
            "artifact": row.get("id"),
            "source": row.get("source"),
            "evidence_path": row.get("evidence_path"),
            "audio_sha256": row.get("sha256"),
            "format": "wav pcm_s16le",
            "output": str(out.absolute()),
            "output_sha256": digest,
            "size": size,
        },
    )
    return Exported(out, digest, size)
