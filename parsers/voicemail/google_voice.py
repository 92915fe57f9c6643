"""Google Voice for Android: ``files/accounts/<n>/LegacyMsgDbInstance.db``.

Each ``message_t`` row holds a protobuf ``message_blob``; field numbers are ALEAPP's
reverse engineering (reference §2.6, secondary): 1 message id, 2 time (Unix ms), 3 own
Google Voice number, 4.1 the other party, 6 read, 7.2[].1 transcript words, 9 duration
(float32 bits), 13 kind (3 = voicemail). The audio is cached in ``cache/audio/`` under
a name containing the message id; the carver reports it, this parser links it.

The protobuf walker is deliberately small (no schema, bounded depth and count): a
field that does not parse leaves the record's value null rather than guessing.
"""

from __future__ import annotations

import re
import sqlite3
import struct
from collections.abc import Iterator
from typing import Any

from parsers.base import Context, Item
from parsers.records import AudioRef, ProblemRecord, VoicemailRecord
from parsers.registry import register
from parsers.sqlite_live import parse_live, table_columns, table_names
from parsers.timeconv import unix_ms_to_iso

KIND_VOICEMAIL = 3
MAX_FIELDS = 10_000

Fields = dict[int, list[Any]]


class ProtoError(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ProtoError(f"varint runs past the end at {pos}")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def fields(data: bytes) -> Fields:
    """Top-level fields of a protobuf message: number → values (int, or bytes for
    length-delimited; fixed32/fixed64 as their little-endian bytes)."""
    out: Fields = {}
    pos = count = 0
    while pos < len(data):
        count += 1
        if count > MAX_FIELDS:
            raise ProtoError("too many fields")
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtoError(f"field number 0 at {pos}")
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ProtoError(f"unsupported wire type {wire} at {pos}")
        if pos > len(data):
            raise ProtoError("field runs past the end")
        out.setdefault(number, []).append(value)
    return out


def _first(f: Fields, number: int) -> Any:
    values = f.get(number)
    return values[0] if values else None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace").strip()
        return text or None
    return None


def _sub(value: Any) -> Fields:
    if not isinstance(value, bytes):
        return {}
    try:
        return fields(value)
    except ProtoError:
        return {}


def _float32(value: Any) -> float | None:
    if isinstance(value, bytes) and len(value) == 4:
        raw = value
    elif isinstance(value, int) and 0 <= value < 1 << 32:
        raw = struct.pack("<I", value)
    else:
        return None
    result = struct.unpack("<f", raw)[0]
    return round(result, 3) if result == result and 0 <= result < 1e7 else None


def transcript_of(f: Fields) -> str | None:
    words = [_text(_first(_sub(w), 1)) or "" for w in _sub(_first(f, 7)).get(2, [])]
    text = ""
    for word in words:
        if not word:
            continue
        glue = "" if not text or re.fullmatch(r"[.,!?;:]+", word) else " "
        text += glue + word
    return text or None


def voicemail_of(blob: bytes) -> dict[str, Any] | None:
    """The voicemail facts of one ``message_blob`` (None when it is not a voicemail)."""
    f = fields(blob)
    if _first(f, 13) != KIND_VOICEMAIL:
        return None
    when = _first(f, 2)
    read = _first(f, 6)
    return {
        "message_id": _text(_first(f, 1)),
        "date": when if isinstance(when, int) else None,
        "own_number": _text(_first(f, 3)),
        "caller": _text(_first(_sub(_first(f, 4)), 1)),
        "read": bool(read) if isinstance(read, int) else None,
        "duration": _float32(_first(f, 9)),
        "transcript": transcript_of(f),
    }


@register(
    "google-voice",
    patterns=("*com.google.android.apps.googlevoice/files/accounts/*/LegacyMsgDbInstance.db",),
)
def parse(item: Item, ctx: Context) -> Iterator[object]:
    return parse_live(item, ctx, lambda conn: _messages(item, ctx, conn))


def _messages(item: Item, ctx: Context, conn: sqlite3.Connection) -> Iterator[object]:
    if "message_t" not in table_names(conn):
        yield ProblemRecord(item.path, "parse", "no 'message_t' table")
        return
    columns = table_columns(conn, "message_t")
    if "message_blob" not in columns:
        yield ProblemRecord(item.path, "parse", "message_t has no message_blob column")
        return
    app_root = item.path.split("/files/accounts/", 1)[0]
    account = item.path.split("/files/accounts/", 1)[1].split("/", 1)[0]
    for values in conn.execute("SELECT rowid, * FROM message_t ORDER BY rowid"):
        row = dict(zip(["__rowid__", *columns], values, strict=False))
        rowid = row.pop("__rowid__")
        blob = row.get("message_blob")
        if not isinstance(blob, bytes):
            continue
        try:
            vm = voicemail_of(blob)
        except ProtoError as exc:
            yield ProblemRecord(
                item.path,
                "parse",
                f"message_blob is not a protobuf message: {exc}",
                locator=f"sqlite:table=message_t,rowid={rowid}",
            )
            continue
        if vm is None:
            continue
        refs = []
        mid = vm["message_id"]
        if mid and not any(c in mid for c in "*?[/"):
            refs = [AudioRef(a.path) for a in ctx.glob(f"{app_root}/cache/audio/*{mid}*")]
        extra = {k: v for k, v in row.items() if not isinstance(v, bytes)}
        extra.update({"account": account, "message_id": mid, "kind": KIND_VOICEMAIL})
        yield VoicemailRecord(
            path=item.path,
            platform="android",
            locator=f"sqlite:table=message_t,rowid={rowid}",
            caller=vm["caller"],
            callee=vm["own_number"],
            received_utc=unix_ms_to_iso(vm["date"]),
            received_raw=vm["date"],
            duration_s=vm["duration"],
            transcript=vm["transcript"],
            read=vm["read"],
            deleted=False,
            audio_refs=refs,
            extra=extra,
        )
