"""iOS Visual Voicemail: ``Library/Voicemail/voicemail.db`` with ``<ROWID>.amr`` and
``<ROWID>.transcript`` beside it.

Columns are read by name, so the iOS <= 9 schema (10 columns, no ``map``/``deleted``
tables) and the modern one (``receiver``, ``label``, ``map``, ``deleted``) go through the
same code, and unknown later columns are kept in ``extra`` rather than dropped.
``date`` is Unix seconds; ``trashed_date`` is Apple (2001) seconds, 0 when not trashed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from parsers.base import Context, Item
from parsers.nskeyed import ArchiveError, unarchive
from parsers.records import AudioRef, ProblemRecord, VoicemailRecord
from parsers.registry import register
from parsers.sqlite_live import parse_live, table_columns
from parsers.timeconv import cocoa_to_iso, unix_to_iso
from parsers.voicemail._deleted import Recovered, differs, recovered_rows

FLAG_TRASHED = 0x08  # 75 = deleted per Hoog & Strzempka; inferred bit, see README
FLAG_HEARD = 0x40  # 67 = old/heard


def read_transcript(item: Item) -> tuple[str | None, float | None, str | None]:
    """(text, confidence, problem) from an archived ``VMVoicemailTranscript``."""
    try:
        with item.open() as f:
            root = unarchive(f.read(1 << 22))
    except (ArchiveError, OSError) as exc:
        return None, None, f"transcript unreadable: {exc}"
    if not isinstance(root, dict):
        return None, None, "transcript archive has no dictionary root"
    text = root.get("transcriptionString")
    confidence = root.get("confidence")
    return (
        text if isinstance(text, str) else None,
        float(confidence) if isinstance(confidence, int | float) else None,
        None,
    )


def _row_record(
    item: Item,
    ctx: Context,
    table: str,
    row: dict[str, Any],
    accounts: dict[str, str],
    found: Recovered | None = None,
    still_live: bool = False,
) -> Iterator[VoicemailRecord | ProblemRecord]:
    rowid = row.get("ROWID")
    folder = item.parent
    date, trashed_raw = row.get("date"), row.get("trashed_date")
    raw_flags = row.get("flags")
    flags: int = raw_flags if isinstance(raw_flags, int) else 0
    trashed = bool(trashed_raw) if isinstance(trashed_raw, int | float) else None
    transcript = confidence = None
    sidecar = ctx.get(f"{folder}/{rowid}.transcript")
    if sidecar is not None:
        transcript, confidence, problem = read_transcript(sidecar)
        if problem:
            yield ProblemRecord(sidecar.path, "parse", problem)
    duration = row.get("duration")
    extra = {k: v for k, v in row.items() if not isinstance(v, bytes)}
    extra["table"] = table
    if confidence is not None:
        extra["transcript_confidence"] = confidence
    if row.get("label") in accounts:
        extra["account_iccid"] = accounts[row["label"]]
    if found is not None:
        extra["recovered_from"] = found.locator
    deleted = table == "deleted" or bool(trashed) or bool(flags & FLAG_TRASHED)
    yield VoicemailRecord(
        path=found.path if found else item.path,
        offset=found.offset if found else None,
        recovered=found.recovered if found else "live",
        confidence=found.confidence if found else None,
        platform="ios",
        locator=found.locator if found else f"sqlite:table={table},rowid={rowid}",
        caller=row.get("sender") or row.get("callback_num") or None,
        callee=row.get("receiver") or None,
        received_utc=unix_to_iso(date) if isinstance(date, int | float) else None,
        received_raw=date,
        duration_s=float(duration) if isinstance(duration, int | float) else None,
        transcript=transcript,
        read=bool(flags & FLAG_HEARD),
        trashed=trashed,
        trashed_utc=cocoa_to_iso(trashed_raw) if trashed else None,
        trashed_raw=trashed_raw,
        deleted=deleted or (found is not None and not still_live),
        audio_refs=[AudioRef(f"{folder}/{rowid}.amr")],
        extra=extra,
    )


@register("ios-voicemail-db", patterns=("*Library/Voicemail/voicemail.db",))
def parse(item: Item, ctx: Context) -> Iterator[object]:
    return parse_live(item, ctx, lambda conn: _parse_tables(item, ctx, conn))


def _parse_tables(item: Item, ctx: Context, conn: sqlite3.Connection) -> Iterator[object]:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "voicemail" not in tables:
        yield ProblemRecord(item.path, "parse", "no 'voicemail' table: not a voicemail.db")
        return
    accounts: dict[str, str] = {}
    if "map" in tables and {"label", "account"} <= set(table_columns(conn, "map")):
        accounts = {
            str(lbl): str(acc) for lbl, acc in conn.execute("SELECT label, account FROM map")
        }
    live: dict[tuple[str, Any], dict[str, Any]] = {}
    for table in ("voicemail", "deleted"):
        if table not in tables:
            continue
        columns = table_columns(conn, table)
        order = "ROWID" if "ROWID" in columns else "rowid"
        for values in conn.execute(f'SELECT * FROM "{table}" ORDER BY {order}'):
            row = dict(zip(columns, values, strict=False))
            row.setdefault("ROWID", row.get("rowid"))
            live[(table, row["ROWID"])] = row
            yield from _row_record(item, ctx, table, row, accounts)
    yield from _recovered(item, ctx, live, accounts)


def _recovered(
    item: Item,
    ctx: Context,
    live: dict[tuple[str, Any], dict[str, Any]],
    accounts: dict[str, str],
) -> Iterator[object]:
    """Rows SQLite no longer shows: deleted ones, and older versions that differ."""
    for found in recovered_rows(item, ctx, ("voicemail", "deleted")):
        if isinstance(found, ProblemRecord):
            yield found
            continue
        current = live.get((found.table, found.row.get("ROWID")))
        if current is not None and not differs(found.row, current):
            continue
        yield from _row_record(
            item, ctx, found.table, found.row, accounts, found, still_live=current is not None
        )
