"""Google Phone / AOSP Dialer: share copies, its own databases, and VVM credentials.

- ``cache/my_cache/<name-or-number>_<MM-dd-yy_hhmmaa>.<ext>``: sharing a voicemail copies
  its audio here (``VoicemailPlaybackPresenter``). The name gives caller and time, but the
  time is the device's local wall-clock time in an unknown zone: it is kept as stored in
  ``received_raw`` and ``received_utc`` stays null rather than guessing a zone.
- ``annotated_call_log.db`` (``AnnotatedCallLog``, AOSP and Google column spellings) rows
  that are voicemail; their audio lives in the platform provider, reached through
  ``voicemail_uri`` → the provider's ``calls`` row → its ``_data`` file.
- ``dialer.db`` ``voicemail_archive_table`` (2016-era Dialer) with its audio in
  ``files/voicemails/<_id>.<ext>``.
- ``shared_prefs/*.xml`` keys ``visual_voicemail_<key>_<account>`` (``u``, ``pw``,
  ``srv``, ``ipt``, ...) hold the carrier IMAP/SMTP login in cleartext: one
  ``vvm-credentials-cleartext`` finding per account that has a password, naming the file,
  the keys and the server, never the password.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any
from xml.etree import ElementTree

from parsers.base import Context, Item
from parsers.records import AudioRef, FindingRecord, ProblemRecord, VoicemailRecord
from parsers.registry import register
from parsers.sqlite_live import open_readonly_copy, parse_live, table_columns, table_names
from parsers.timeconv import unix_ms_to_iso
from parsers.voicemail._deleted import differs, recovered_rows
from parsers.voicemail.android_calllog import resolve_audio

DIALERS = ("com.google.android.dialer", "com.android.dialer")
MAX_PREFS = 4 << 20

# --- my_cache share copies ----------------------------------------------------------------

_SHARE_NAME = re.compile(
    r"^(?P<who>.+)_(?P<date>\d{2}-\d{2}-\d{2})_(?P<hh>\d{2})(?P<mm>\d{2})(?P<ampm>[^._]*)"
    r"\.(?P<ext>[A-Za-z0-9]+)$"
)


def parse_share_name(name: str) -> dict[str, Any] | None:
    """Caller and local time from ``<who>_<MM-dd-yy_hhmmaa>.<ext>``, or None."""
    m = _SHARE_NAME.match(name)
    if not m:
        return None
    month, day, year = (int(x) for x in m.group("date").split("-"))
    hour, minute = int(m.group("hh")), int(m.group("mm"))
    marker = m.group("ampm").strip().lower().replace(".", "")
    if not (1 <= month <= 12 and 1 <= day <= 31 and 1 <= hour <= 12 and minute < 60):
        return None
    if marker in ("pm", "p"):
        hour = hour % 12 + 12
    elif marker in ("am", "a"):
        hour = hour % 12
    local = f"20{year:02d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}"
    return {
        "who": m.group("who"),
        "raw_time": name[m.start("date") : m.end("ampm")],
        "local_time": local if marker in ("am", "a", "pm", "p") else None,
        "ext": m.group("ext"),
    }


@register("google-dialer-share-copy", patterns=tuple(f"*{p}/cache/my_cache/*" for p in DIALERS))
def parse_share_copy(item: Item, ctx: Context) -> Iterator[object]:
    info = parse_share_name(item.name)
    if info is None:
        return
    who = info["who"]
    is_number = re.fullmatch(r"[+\d\s().#*-]+", who) is not None
    yield VoicemailRecord(
        path=item.path,
        platform="android",
        caller=who,
        received_utc=None,
        received_raw=info["raw_time"],
        duration_s=None,
        transcript=None,
        deleted=False,
        audio_refs=[AudioRef(item.path)],
        extra={
            "kind": "share-copy",
            "caller_is_number": is_number,
            "local_time": info["local_time"],
            "time_zone": "device local, unknown",
            "note": "copy made when the voicemail was shared; the name gives caller and "
            "the device's local time (zone unknown), so no UTC time is given",
        },
    )


# --- databases ----------------------------------------------------------------------------


def _digits_from_blob(value: object) -> str | None:
    """A phone number from AOSP's ``number`` proto blob: its longest dial-string run."""
    if isinstance(value, str):
        return value.strip() or None
    if not isinstance(value, bytes):
        return None
    runs = re.findall(rb"\+?[0-9*#]{3,}", value)
    return max(runs, key=len).decode() if runs else None


class _Provider:
    """Looks up the platform provider's ``_data`` for a voicemail id, once per database."""

    def __init__(self, item: Item, ctx: Context) -> None:
        self.ctx = ctx
        self.near = item.path
        self._rows: dict[int, object] | None = None
        self.path: str | None = None

    def _load(self) -> dict[int, object]:
        rows: dict[int, object] = {}
        root = self.near.split("data/data/", 1)[0] if "data/data/" in self.near else ""
        for name in ("calllog.db", "contacts2.db"):
            db = self.ctx.get(f"{root}data/data/com.android.providers.contacts/databases/{name}")
            if db is None:
                continue
            try:
                conn = open_readonly_copy(db, self.ctx)
            except (sqlite3.Error, OSError):
                continue
            try:
                if {"_id", "_data"} <= set(table_columns(conn, "calls")):
                    for _id, data in conn.execute("SELECT _id, _data FROM calls WHERE type = 4"):
                        rows.setdefault(_id, data)
                    self.path = self.path or db.path
            except sqlite3.Error:
                pass
            finally:
                conn.close()
        return rows

    def audio_for(self, uri: object) -> str | None:
        if not isinstance(uri, str):
            return None
        m = re.search(r"/voicemail/(\d+)$", uri)
        if not m:
            return None
        if self._rows is None:
            self._rows = self._load()
        data = self._rows.get(int(m.group(1)))
        path, present = resolve_audio(self.ctx, data, self.near)
        return path if present else None


def _row_dicts(conn: sqlite3.Connection, table: str) -> Iterator[tuple[int, dict[str, Any]]]:
    columns = table_columns(conn, table)
    for values in conn.execute(f'SELECT rowid, * FROM "{table}" ORDER BY rowid'):
        yield values[0], dict(zip(columns, values[1:], strict=False))


def _with_recovered(
    item: Item,
    ctx: Context,
    conn: sqlite3.Connection,
    table: str,
    build: Callable[[int | None, dict[str, Any]], VoicemailRecord | None],
) -> Iterator[object]:
    """Live rows, then rows our own SQLite reader recovers (deleted, or older and
    different), each marked with where its bytes were read."""
    live: dict[object, dict[str, Any]] = {}
    for rowid, row in _row_dicts(conn, table):
        live[row.get("_id", rowid)] = row
        record = build(rowid, row)
        if record is not None:
            yield record
    for found in recovered_rows(item, ctx, (table,)):
        if isinstance(found, ProblemRecord):
            yield found
            continue
        current = live.get(found.row.get("_id"))
        if current is not None and not differs(found.row, current):
            continue
        record = build(found.row.get("_id"), dict(found.row))
        if record is not None:
            yield replace(
                record,
                path=found.path,
                offset=found.offset,
                locator=found.locator,
                recovered=found.recovered,
                confidence=found.confidence,
                deleted=current is None,
            )


def _annotated(item: Item, ctx: Context, conn: sqlite3.Connection) -> Iterator[object]:
    provider = _Provider(item, ctx)

    def build(rowid: int | None, row: dict[str, Any]) -> VoicemailRecord | None:
        if not (row.get("is_voicemail_call") == 1 or row.get("call_type") == 4):
            return None
        transcript = row.get("transcription")
        if not isinstance(transcript, str):
            transcript = row.get("voicemail_transcription")
        audio = provider.audio_for(row.get("voicemail_uri"))
        duration = row.get("duration")
        return VoicemailRecord(
            path=item.path,
            platform="android",
            locator=f"sqlite:table=AnnotatedCallLog,rowid={rowid}",
            caller=_digits_from_blob(row.get("raw_number"))
            or _digits_from_blob(row.get("number"))
            or (row.get("formatted_number") or None),
            received_utc=unix_ms_to_iso(row.get("timestamp")),
            received_raw=row.get("timestamp"),
            duration_s=float(duration) if isinstance(duration, int | float) else None,
            transcript=transcript.strip() or None if isinstance(transcript, str) else None,
            read=bool(row["is_read"]) if isinstance(row.get("is_read"), int) else None,
            deleted=False,
            audio_refs=[AudioRef(audio)] if audio else [],
            extra={k: v for k, v in row.items() if not isinstance(v, bytes)},
        )

    yield from _with_recovered(item, ctx, conn, "AnnotatedCallLog", build)


def _archive(item: Item, ctx: Context, conn: sqlite3.Connection) -> Iterator[object]:
    app_root = item.path.rsplit("/databases/", 1)[0]

    def build(rowid: int | None, row: dict[str, Any]) -> VoicemailRecord | None:
        _id = row.get("_id", rowid)
        refs: list[AudioRef] = []
        path, present = resolve_audio(ctx, row.get("_data"), item.path)
        if present and path:
            refs.append(AudioRef(path))
        else:
            for f in ctx.glob(f"{app_root}/files/voicemails/{_id}*"):
                if f.name == str(_id) or f.name.startswith(f"{_id}."):
                    refs.append(AudioRef(f.path))
        duration = row.get("duration")
        transcript = row.get("transcription")
        return VoicemailRecord(
            path=item.path,
            platform="android",
            locator=f"sqlite:table=voicemail_archive_table,rowid={rowid}",
            caller=(row.get("number") or None),
            received_utc=unix_ms_to_iso(row.get("date")),
            received_raw=row.get("date"),
            duration_s=float(duration) if isinstance(duration, int | float) else None,
            transcript=transcript.strip() or None if isinstance(transcript, str) else None,
            deleted=False,
            audio_refs=refs,
            extra={k: v for k, v in row.items() if not isinstance(v, bytes)} | {"kind": "archived"},
        )

    yield from _with_recovered(item, ctx, conn, "voicemail_archive_table", build)


@register(
    "google-dialer-db",
    patterns=tuple(
        f"*{p}/databases/{n}" for p in DIALERS for n in ("annotated_call_log.db", "dialer.db")
    ),
)
def parse_database(item: Item, ctx: Context) -> Iterator[object]:
    def body(conn: sqlite3.Connection) -> Iterator[object]:
        tables = table_names(conn)
        if "AnnotatedCallLog" in tables:
            yield from _annotated(item, ctx, conn)
        if "voicemail_archive_table" in tables:
            yield from _archive(item, ctx, conn)

    return parse_live(item, ctx, body)


# --- credentials in shared_prefs ------------------------------------------------------------

PREFIX = "visual_voicemail_"
# STATUS-SMS field names (OmtpConstants) stored per account; longest first for matching.
FIELDS = sorted(
    ("u", "pw", "srv", "ipt", "spt", "smtp_u", "smtp_pw", "smtp_srv", "tui", "dn", "pw_len",
     "rs", "st", "lang", "g_len", "vs_len", "vm_number"),
    key=len,
    reverse=True,
)  # fmt: skip
PASSWORD_FIELDS = ("pw", "smtp_pw")


def _vvm_keys(name: str) -> tuple[str, str] | None:
    if not name.startswith(PREFIX):
        return None
    rest = name[len(PREFIX) :]
    for field in FIELDS:
        if rest.startswith(field + "_") and len(rest) > len(field) + 1:
            return field, rest[len(field) + 1 :]
    return None


def read_prefs(item: Item) -> list[tuple[str, str]] | str:
    """(name, value) of a shared_prefs XML, or a problem message."""
    with item.open() as f:
        data = f.read(MAX_PREFS + 1)
    if len(data) > MAX_PREFS:
        return f"larger than {MAX_PREFS} bytes: not read"
    if data.startswith(b"ABX\x00"):
        return "binary XML (ABX): not read"
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data:
        return "XML with a DTD: refused"
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        return f"not well-formed XML: {exc}"
    entries = []
    for el in root:
        name = el.get("name")
        if name is None:
            continue
        value = el.get("value")
        entries.append((name, value if value is not None else (el.text or "")))
    return entries


@register("vvm-credentials-prefs", patterns=("*shared_prefs/*.xml",))
def parse_prefs(item: Item, ctx: Context) -> Iterator[object]:
    is_dialer = any(f"/{p}/" in f"/{item.path}" for p in (*DIALERS, "com.android.phone"))
    if not is_dialer:
        with item.open() as f:
            if PREFIX.encode() not in f.read(MAX_PREFS):
                return
    try:
        entries = read_prefs(item)
    except OSError as exc:
        yield ProblemRecord(item.path, "parse", f"cannot read: {exc}")
        return
    if isinstance(entries, str):
        if is_dialer:
            yield ProblemRecord(item.path, "parse", entries, offset=0)
        return
    accounts: dict[str, dict[str, tuple[str, str]]] = {}
    for name, value in entries:
        key = _vvm_keys(name)
        if key:
            accounts.setdefault(key[1], {})[key[0]] = (name, value)
    for account, fields in sorted(accounts.items()):
        secrets = [f for f in PASSWORD_FIELDS if fields.get(f, ("", ""))[1]]
        if not secrets:
            continue
        server = fields.get("srv", ("", ""))[1] or None
        port = fields.get("ipt", ("", ""))[1] or None
        user = fields.get("u", ("", ""))[1] or None
        keys = sorted(name for name, _ in fields.values())
        detail = (
            f"{item.path} holds the visual-voicemail login for phone account {account} in "
            f"cleartext: keys {', '.join(keys)}"
            + (f"; IMAP server {server}" + (f":{port}" if port else "") if server else "")
            + (f"; user {user}" if user else "")
            + "; with it anyone can download the mailbox's voicemail from the carrier"
        )
        yield FindingRecord(
            path=item.path,
            code="vvm-credentials-cleartext",
            title="Visual voicemail credentials in cleartext",
            detail=detail,
            severity="high",
            locator=f"prefs:account={account}",
            key_path=item.path,
            extra={
                "account": account,
                "keys": keys,
                "server": server,
                "imap_port": port,
                "smtp_port": fields.get("spt", ("", ""))[1] or None,
                "user": user,
                "password_keys": [fields[f][0] for f in secrets],
            },
        )
