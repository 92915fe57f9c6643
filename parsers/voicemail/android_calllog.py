"""Android's platform voicemail provider: ``calls`` rows of type 4 and ``voicemail_status``.

The table lives in ``calllog.db`` from Android 7 (and its direct-boot twin
``calllog_shadow.db`` in device-protected storage), in ``contacts2.db`` before that, and
in Samsung's own provider package on Samsung builds. The columns differ with the
database version and the vendor, so every column is read by name and whatever a
version adds is kept in ``extra`` rather than dropped.

The audio is the file named by ``_data``: an absolute device path
(``/data/user/0/com.android.providers.contacts/app_voicemail-data/voicemail<digits>``,
no extension) that is mapped here to the evidence path the acquisition gives that file.
The provider deletes the file with its row, so a row whose file is missing and a file
no row names are both worth telling the analyst: the first is noted in the record's
``extra`` (``audio_present``), the second is an ``info`` finding.

``voicemail_status`` says which app ran visual voicemail for which SIM account (its
``phone_account_id`` is often the ICCID) and whether it worked. It describes the
account, not one message, so each row is an ``info`` finding (code ``vvm-status``),
which also reports it on devices that hold no voicemail at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from parsers.base import Context, Item
from parsers.records import AudioRef, FindingRecord, ProblemRecord, VoicemailRecord
from parsers.registry import register
from parsers.sqlite_live import open_readonly_copy, parse_live, table_columns, table_names
from parsers.timeconv import unix_ms_to_iso
from parsers.voicemail._deleted import Recovered, differs, recovered_rows

VOICEMAIL_TYPE = 4
STATE_DELETED = 1  # VoicemailContract.Voicemails.STATE_DELETED
AUDIO_DIR = "app_voicemail-data"
PROVIDER_PACKAGES = ("com.android.providers.contacts", "com.samsung.android.providers.contacts")

PATTERNS = (
    "*com.android.providers.contacts/databases/calllog.db",
    "*com.android.providers.contacts/databases/calllog_shadow.db",
    "*com.android.providers.contacts/databases/contacts2.db",
    "*com.samsung.android.providers.contacts/databases/calllog.db",
    "*com.samsung.android.providers.contacts/databases/contacts2.db",
    "*com.sec.android.provider.logsprovider/databases/logs.db",
)

# Where the device itself puts app data, longest first, and what the evidence path uses.
_DEVICE_ROOTS = (
    ("data/user/0/", "data/data/"),
    ("data/data/", "data/data/"),
    ("data/user_de/", "data/user_de/"),
    ("data/user/", "data/user/"),
)


def _prefix(path: str) -> str:
    """Whatever a source puts before the device's ``data/`` (empty for normalised paths)."""
    for marker in ("data/data/", "data/user_de/", "data/user/"):
        at = path.find(marker)
        if at == 0 or (at > 0 and path[at - 1] == "/"):
            return path[:at]
    return ""


def device_to_evidence(device_path: str, near: str) -> str | None:
    """The evidence path of an absolute device path, in the source that holds ``near``."""
    path = device_path.strip().lstrip("/")
    if path.startswith("file://"):
        path = path[len("file://") :].lstrip("/")
    for device_root, evidence_root in _DEVICE_ROOTS:
        if path.startswith(device_root):
            return _prefix(near) + evidence_root + path[len(device_root) :]
    return None


def resolve_audio(ctx: Context, data_path: object, near: str) -> tuple[str | None, bool]:
    """(evidence path, present) for a ``_data`` value; falls back to the file's name
    under any ``app_voicemail-data`` folder when the device path does not map."""
    if not isinstance(data_path, str) or not data_path.strip():
        return None, False
    mapped = device_to_evidence(data_path, near)
    if mapped is not None and ctx.get(mapped) is not None:
        return mapped, True
    name = data_path.rstrip("/").rsplit("/", 1)[-1]
    if name and not any(c in name for c in "*?["):
        for candidate in ctx.glob(f"*{AUDIO_DIR}/{name}"):
            return candidate.path, True
    return mapped, False


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _flag(value: object) -> bool | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return bool(int(value))
    return None


def row_record(
    item: Item,
    ctx: Context,
    table: str,
    row: dict[str, Any],
    found: Recovered | None = None,
    still_live: bool = False,
) -> tuple[VoicemailRecord, str | None]:
    """One voicemail row → record (and the audio evidence path it names, if any).

    ``found`` is set for a row read back by our own SQLite reader (deleted, or an older
    version of a live row): the record then points at the exact file, page and offset.
    """
    rowid = row.pop("__rowid__", None)
    if rowid is None:
        rowid = row.get("_id")
    date = row.get("date")
    duration = row.get("duration")
    state = row.get("state")
    audio_path, present = resolve_audio(ctx, row.get("_data"), item.path)
    extra = {k: v for k, v in row.items() if not isinstance(v, bytes)}
    extra["table"] = table
    if row.get("_data") is not None:
        extra["audio_path"] = audio_path
        extra["audio_present"] = present
    deleted_flag = _flag(row.get("deleted"))
    if found is not None:
        extra["recovered_from"] = found.locator
    return (
        VoicemailRecord(
            path=found.path if found else item.path,
            offset=found.offset if found else None,
            recovered=found.recovered if found else "live",
            confidence=found.confidence if found else None,
            platform="android",
            locator=found.locator if found else f"sqlite:table={table},rowid={rowid}",
            caller=_text(row.get("number")),
            callee=_text(row.get("phone_account_address")),
            received_utc=unix_ms_to_iso(date),
            received_raw=date,
            duration_s=float(duration)
            if isinstance(duration, int | float) and not isinstance(duration, bool)
            else None,
            transcript=_text(row.get("transcription")),
            read=_flag(row.get("is_read")),
            deleted=bool(deleted_flag)
            or state == STATE_DELETED
            or (found is not None and not still_live),
            audio_refs=[AudioRef(audio_path)] if present and audio_path else [],
            extra=extra,
        ),
        audio_path if present else None,
    )


def _status_findings(item: Item, conn: sqlite3.Connection) -> Iterator[FindingRecord]:
    columns = table_columns(conn, "voicemail_status")
    order = "_id" if "_id" in columns else "rowid"
    for values in conn.execute(f"SELECT * FROM voicemail_status ORDER BY {order}"):
        row = dict(zip(columns, values, strict=False))
        row = {k: v for k, v in row.items() if not isinstance(v, bytes)}
        package = _text(row.get("source_package")) or "an unnamed package"
        account = _text(row.get("phone_account_id"))
        states = ", ".join(
            f"{k}={row[k]}"
            for k in ("configuration_state", "data_channel_state", "notification_channel_state")
            if k in row
        )
        yield FindingRecord(
            path=item.path,
            code="vvm-status",
            title="Visual voicemail account status",
            detail=(
                f"{item.path}: visual voicemail was set up by {package}"
                + (f" for phone account {account}" if account else "")
                + (f" ({states})" if states else "")
            ),
            severity="info",
            locator=f"sqlite:table=voicemail_status,rowid={row.get('_id')}",
            extra=row,
        )


def _orphans(item: Item, ctx: Context, linked: set[str]) -> Iterator[FindingRecord]:
    """Files in this provider's audio folder that no row of this database names."""
    base = item.parent.rsplit("/", 1)[0] if "/" in item.parent else ""
    folder = f"{base}/{AUDIO_DIR}" if base else AUDIO_DIR
    for audio in ctx.glob(f"{folder}/*"):
        if audio.path in linked or "/" in audio.path[len(folder) + 1 :]:
            continue
        yield FindingRecord(
            path=audio.path,
            code="voicemail-audio-without-row",
            title="Voicemail audio with no call-log row",
            detail=(
                f"{audio.path} ({audio.size} bytes) is in the voicemail provider's audio folder "
                f"but no voicemail row of {item.path} names it: the row was deleted or never "
                "committed, the audio remains"
            ),
            severity="info",
            extra={"database": item.path, "size": audio.size},
        )


def parse_database(item: Item, ctx: Context, conn: sqlite3.Connection) -> Iterator[object]:
    tables = table_names(conn)
    table = "calls" if "calls" in tables else "logs" if "logs" in tables else None
    if table is None:
        yield ProblemRecord(item.path, "parse", "no 'calls' table: not a call-log database")
        return
    columns = table_columns(conn, table)
    if "type" not in columns:
        yield ProblemRecord(item.path, "parse", f"table {table} has no 'type' column")
        return
    linked: set[str] = set()
    live: dict[Any, dict[str, Any]] = {}
    query = f'SELECT rowid, * FROM "{table}" WHERE type = ? ORDER BY rowid'
    for values in conn.execute(query, (VOICEMAIL_TYPE,)):
        row = dict(zip(["__rowid__", *columns], values, strict=False))
        live[row["__rowid__"]] = dict(row)
        record, audio = row_record(item, ctx, table, row)
        if audio:
            linked.add(audio)
        yield record
    for found in recovered_rows(item, ctx, (table,)):
        if isinstance(found, ProblemRecord):
            yield found
            continue
        if found.row.get("type") != VOICEMAIL_TYPE:
            continue
        rowid = found.row.get("_id")
        current = live.get(rowid)
        if current is not None and not differs(found.row, current):
            continue
        record, audio = row_record(
            item, ctx, table, dict(found.row), found, still_live=current is not None
        )
        if audio:
            linked.add(audio)
        yield record
    if "voicemail_status" in tables:
        yield from _status_findings(item, conn)
    # The shadow copy and Samsung's logs.db share the audio folder with calllog.db: only
    # the main database of a provider reports the folder's unnamed files.
    if item.name in ("calllog.db", "contacts2.db") and any(
        f"{p}/databases/" in item.path for p in PROVIDER_PACKAGES
    ):
        sibling = "contacts2.db" if item.name == "calllog.db" else "calllog.db"
        if item.name == "calllog.db" or ctx.get(f"{item.parent}/{sibling}") is None:
            yield from _orphans(item, ctx, linked | _linked_elsewhere(ctx, item, sibling))


def _linked_elsewhere(ctx: Context, item: Item, sibling_name: str) -> set[str]:
    """Audio named by the other provider database (calllog.db and contacts2.db can coexist
    after the Android 7 migration); orphans are files neither names."""
    sibling = ctx.get(f"{item.parent}/{sibling_name}")
    if sibling is None:
        return set()
    try:
        conn = open_readonly_copy(sibling, ctx)
    except (sqlite3.Error, OSError):
        return set()
    found: set[str] = set()
    try:
        if "_data" in table_columns(conn, "calls"):
            for (data,) in conn.execute("SELECT _data FROM calls WHERE type = 4"):
                path, present = resolve_audio(ctx, data, sibling.path)
                if present and path:
                    found.add(path)
    except sqlite3.Error:
        pass
    finally:
        conn.close()
    return found


@register("android-calllog", patterns=PATTERNS)
def parse(item: Item, ctx: Context) -> Iterator[object]:
    return parse_live(item, ctx, lambda conn: parse_database(item, ctx, conn))
