"""Synthetic Android file-system extractions: Android 13 (tar) and Android 6 (zip).

Every voicemail store the parsers know, with real audio (AMR-NB from PyAV, AMR-WB from
libvo-amrwbenc) and the edge cases that matter: read, unread, soft-deleted, transcribed,
audio missing, audio without a row, the Google Phone app's share copy and its cleartext
visual-voicemail credentials, AT&T's base64 and header-less parts, a Samsung VVM file
found only by content, a share copy on shared storage. App storage layouts of the
carrier apps are undocumented: those paths are labelled guesses (see the reference).
Times, names and random-looking digits are fixed, so the same library versions
(``versions()``) rebuild byte-identical images.
"""

from __future__ import annotations

import base64
import io
import sqlite3
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from builders import audio, codecs

BASE_MS = 1700000000000  # 2023-11-14T22:13:20Z
PROVIDER = "data/data/com.android.providers.contacts"
DIALER = "data/data/com.google.android.dialer"
ATT = "data/data/com.att.mobile.android.vvm"
ACCOUNT = "89014103211118510720"
OWN_NUMBER = "+15555550100"
VVM_PASSWORD = "Sup3r-Secret-VVM"  # appears only in the image, never in any output
SMTP_PASSWORD = "smtp-Secret-77"
TAR_MTIME = 1700003600
ZIP_DATE = (2023, 11, 14, 23, 0, 0)


def versions() -> dict[str, str]:
    import platform

    return {
        **audio.versions(),
        **codecs.versions(),
        "sqlite3": sqlite3.sqlite_version,
        "python": platform.python_version(),
    }


VERSIONS: dict[str, str] = versions()  # the exact encoder versions this module uses

# calls columns of calllog.db version 12, in onCreate order (reference §2.1).
CALLS_V12 = [
    ("_id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    ("number", "TEXT"),
    ("presentation", "INTEGER NOT NULL DEFAULT 1"),
    ("post_dial_digits", "TEXT NOT NULL DEFAULT ''"),
    ("via_number", "TEXT NOT NULL DEFAULT ''"),
    ("date", "INTEGER"),
    ("duration", "INTEGER"),
    ("data_usage", "INTEGER"),
    ("type", "INTEGER"),
    ("features", "INTEGER NOT NULL DEFAULT 0"),
    ("subscription_component_name", "TEXT"),
    ("subscription_id", "TEXT"),
    ("phone_account_address", "TEXT"),
    ("phone_account_hidden", "INTEGER NOT NULL DEFAULT 0"),
    ("sub_id", "INTEGER DEFAULT -1"),
    ("new", "INTEGER"),
    ("name", "TEXT"),
    ("numbertype", "INTEGER"),
    ("numberlabel", "TEXT"),
    ("countryiso", "TEXT"),
    ("voicemail_uri", "TEXT"),
    ("is_read", "INTEGER"),
    ("geocoded_location", "TEXT"),
    ("lookup_uri", "TEXT"),
    ("matched_number", "TEXT"),
    ("normalized_number", "TEXT"),
    ("photo_id", "INTEGER NOT NULL DEFAULT 0"),
    ("photo_uri", "TEXT"),
    ("formatted_number", "TEXT"),
    ("add_for_all_users", "INTEGER NOT NULL DEFAULT 1"),
    ("last_modified", "INTEGER DEFAULT 0"),
    ("_data", "TEXT"),
    ("has_content", "INTEGER"),
    ("mime_type", "TEXT"),
    ("source_data", "TEXT"),
    ("source_package", "TEXT"),
    ("transcription", "TEXT"),
    ("transcription_state", "INTEGER NOT NULL DEFAULT 0"),
    ("state", "INTEGER"),
    ("dirty", "INTEGER NOT NULL DEFAULT 0"),
    ("deleted", "INTEGER NOT NULL DEFAULT 0"),
    ("backed_up", "INTEGER NOT NULL DEFAULT 0"),
    ("restored", "INTEGER NOT NULL DEFAULT 0"),
    ("archived", "INTEGER NOT NULL DEFAULT 0"),
    ("is_omtp_voicemail", "INTEGER NOT NULL DEFAULT 0"),
    ("call_screening_component_name", "TEXT"),
    ("call_screening_app_name", "TEXT"),
    ("block_reason", "INTEGER NOT NULL DEFAULT 0"),
    ("missed_reason", "INTEGER NOT NULL DEFAULT 0"),
    ("priority", "INTEGER NOT NULL DEFAULT 0"),
    ("subject", "TEXT"),
    ("location", "TEXT"),
    ("composer_photo_uri", "TEXT"),
    ("is_call_log_phone_account_migration_pending", "INTEGER NOT NULL DEFAULT 0"),
    ("is_business_call", "INTEGER NOT NULL DEFAULT 0"),
    ("asserted_display_name", "TEXT"),
]
# contacts2.db (Android <= 6) calls: no via_number, no v4+ columns.
_LEGACY_DROP = {
    "via_number",
    "backed_up",
    "restored",
    "archived",
    "is_omtp_voicemail",
    "call_screening_component_name",
    "call_screening_app_name",
    "block_reason",
    "missed_reason",
    "priority",
    "subject",
    "location",
    "composer_photo_uri",
    "is_call_log_phone_account_migration_pending",
    "is_business_call",
    "asserted_display_name",
    "transcription_state",
}
CALLS_LEGACY = [c for c in CALLS_V12 if c[0] not in _LEGACY_DROP]

STATUS_DDL = (
    "CREATE TABLE voicemail_status (_id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "source_package TEXT NOT NULL{unique},phone_account_component_name TEXT,"
    "phone_account_id TEXT,settings_uri TEXT,voicemail_access_uri TEXT,"
    "configuration_state INTEGER,data_channel_state INTEGER,notification_channel_state INTEGER,"
    "quota_occupied INTEGER DEFAULT -1,quota_total INTEGER DEFAULT -1{source_type})"
)
TELEPHONY = "com.android.phone/com.android.services.telephony.TelephonyConnectionService"


def _sqlite_bytes(statements: list[tuple[str, tuple | list]], user_version: int) -> bytes:
    """Run the statements into a fresh rollback-journal database and return its bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "db"
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute(f"PRAGMA user_version={user_version}")
        for sql, params in statements:
            if params and isinstance(params, list):
                conn.executemany(sql, params)
            else:
                conn.execute(sql, params or ())
        conn.commit()
        conn.close()
        return path.read_bytes()


def _insert(table: str, row: dict[str, object]) -> tuple[str, tuple]:
    cols = ", ".join(f'"{k}"' for k in row)
    marks = ", ".join("?" for _ in row)
    return f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', tuple(row.values())


def _calls_ddl(columns: list[tuple[str, str]]) -> str:
    return "CREATE TABLE calls (" + ",".join(f"{n} {t}" for n, t in columns) + ")"


# --- audio ------------------------------------------------------------------------------


def _amr_nb(seconds: float, seed: int) -> bytes:
    return audio.amr_nb(seconds, seed)


def _amr_wb(seconds: float, seed: int) -> bytes:
    return codecs.amr_wb(audio.voice_pcm(seconds, seed, rate=16000))


# --- Android 13 -------------------------------------------------------------------------

VM_READ = "voicemail1234567890123456789"
VM_UNREAD_WB = "voicemail2718281828459045235"
VM_DELETED = "voicemail3141592653589793238"
VM_MISSING = "voicemail4669201609102990671"
VM_ORPHAN = "voicemail5772156649015328606"
TRANSCRIPT = "Hi, it's Alice. Call me back about the invoice, please."


def _vm_row(_id: int, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "_id": _id,
        "presentation": 1,
        "type": 4,
        "features": 0,
        "subscription_component_name": TELEPHONY,
        "subscription_id": ACCOUNT,
        "phone_account_address": OWN_NUMBER,
        "countryiso": "US",
        "voicemail_uri": f"content://com.android.voicemail/voicemail/{_id}",
        "has_content": 1,
        "mime_type": "audio/amr",
        "source_package": "com.google.android.dialer",
        "state": 0,
        "is_omtp_voicemail": 1,
        "last_modified": BASE_MS + _id * 1000,
    }
    row.update(kw)
    return row


def calllog_v12(audio_root: str) -> bytes:
    rows = [
        {
            "_id": 1,
            "number": "+15555550123",
            "date": BASE_MS - 3_600_000,
            "duration": 61,
            "type": 1,
            "is_read": 1,
            "new": 0,
        },
        _vm_row(
            2,
            number="+15551230001",
            date=BASE_MS + 123,
            duration=2,
            is_read=1,
            new=0,
            _data=f"{audio_root}/{VM_READ}",
            source_data="UID=101",
            transcription=TRANSCRIPT,
            transcription_state=3,
        ),
        _vm_row(
            3,
            number="+15551230002",
            date=BASE_MS + 86_400_000,
            duration=2,
            is_read=0,
            new=1,
            _data=f"{audio_root}/{VM_UNREAD_WB}",
            mime_type="audio/amr-wb",
            source_data="UID=102",
        ),
        _vm_row(
            4,
            number="+15551230003",
            date=BASE_MS + 2 * 86_400_000,
            duration=1,
            is_read=1,
            new=0,
            _data=f"{audio_root}/{VM_DELETED}",
            source_data="UID=103",
            deleted=1,
            dirty=1,
        ),
        _vm_row(
            5,
            number="+15551230004",
            date=BASE_MS + 3 * 86_400_000,
            duration=3,
            is_read=0,
            new=1,
            _data=f"{audio_root}/{VM_MISSING}",
            source_data="UID=104",
        ),
        _vm_row(
            6,
            number="",
            presentation=2,
            date=BASE_MS + 4 * 86_400_000,
            duration=0,
            is_read=0,
            new=1,
            has_content=0,
            mime_type=None,
            source_data="UID=105",
        ),
    ]
    statements: list[tuple[str, tuple | list]] = [
        ("CREATE TABLE android_metadata (locale TEXT)", ()),
        ("INSERT INTO android_metadata VALUES ('en_US')", ()),
        (
            "CREATE TABLE properties (property_key TEXT PRIMARY KEY, property_value TEXT )",
            (),
        ),
        ("INSERT INTO properties VALUES ('call_log_last_synced', ?)", (str(BASE_MS),)),
        (_calls_ddl(CALLS_V12), ()),
        (STATUS_DDL.format(unique="", source_type=",source_type TEXT"), ()),
    ]
    statements += [_insert("calls", r) for r in rows]
    statements.append(
        _insert(
            "voicemail_status",
            {
                "source_package": "com.google.android.dialer",
                "phone_account_component_name": TELEPHONY,
                "phone_account_id": ACCOUNT,
                "configuration_state": 0,
                "data_channel_state": 0,
                "notification_channel_state": 0,
                "quota_occupied": 4,
                "quota_total": 40,
                "source_type": "vvm_type_omtp",
            },
        )
    )
    return _sqlite_bytes(statements, 12)


def annotated_call_log() -> bytes:
    """AOSP Dialer's AnnotatedCallLog (v4 DDL) with one voicemail and one plain call."""
    ddl = (
        "CREATE TABLE AnnotatedCallLog (_id integer primary key, timestamp integer, "
        "number blob, formatted_number text, number_presentation integer, duration integer, "
        "data_usage integer, is_read integer, new integer, geocoded_location text, "
        "phone_account_component_name text, phone_account_id text, features integer, "
        "transcription integer, voicemail_uri text, call_type integer, "
        "number_attributes blob, is_voicemail_call integer, voicemail_call_tag text, "
        "transcription_state integer, call_mapping_id text)"
    )
    common = {"phone_account_component_name": TELEPHONY, "phone_account_id": ACCOUNT}
    rows = [
        {
            "_id": 1,
            "timestamp": BASE_MS - 3_600_000,
            "number": b"\n\x0c+15555550123",
            "formatted_number": "(555) 555-0123",
            "duration": 61,
            "is_read": 1,
            "call_type": 1,
            "is_voicemail_call": 0,
            **common,
        },
        {
            "_id": 2,
            "timestamp": BASE_MS + 123,
            "number": b"\n\x0c+15551230001",
            "formatted_number": "(555) 123-0001",
            "duration": 2,
            "is_read": 1,
            "call_type": 4,
            "is_voicemail_call": 0,
            "transcription": TRANSCRIPT,
            "transcription_state": 3,
            "voicemail_uri": "content://com.android.voicemail/voicemail/2",
            **common,
        },
    ]
    return _sqlite_bytes([(ddl, ())] + [_insert("AnnotatedCallLog", r) for r in rows], 4)


def dialer_prefs() -> bytes:
    """The Dialer's default shared preferences with per-account VVM STATUS-SMS fields."""
    entries = [
        ("boolean", "call_log_tab_visited", "true"),
        ("string", f"visual_voicemail_u_{ACCOUNT}", "15555550100@vvm.example.net"),
        ("string", f"visual_voicemail_pw_{ACCOUNT}", VVM_PASSWORD),
        ("string", f"visual_voicemail_srv_{ACCOUNT}", "imap.vvm.example.net"),
        ("string", f"visual_voicemail_ipt_{ACCOUNT}", "993"),
        ("string", f"visual_voicemail_spt_{ACCOUNT}", "465"),
        ("string", f"visual_voicemail_smtp_u_{ACCOUNT}", "15555550100@vvm.example.net"),
        ("string", f"visual_voicemail_smtp_pw_{ACCOUNT}", SMTP_PASSWORD),
        ("string", f"visual_voicemail_tui_{ACCOUNT}", "+15555550999"),
        ("boolean", f"visual_voicemail_is_enabled_{ACCOUNT}", "true"),
    ]
    lines = ["<?xml version='1.0' encoding='utf-8' standalone='yes' ?>", "<map>"]
    for kind, name, value in entries:
        if kind == "string":
            lines.append(f'    <string name="{name}">{value}</string>')
        else:
            lines.append(f'    <{kind} name="{name}" value="{value}" />')
    lines.append("</map>")
    return ("\n".join(lines) + "\n").encode()


# --- Google Voice (message_t protobufs, field numbers from ALEAPP) -------------------------

GV = "data/data/com.google.android.apps.googlevoice"
GV_VM_ID = "1f2e3d4c5b6a7988"
GV_WORDS = ["Hey", ",", "it's", "Frank", "from", "the", "garage", "."]


def _pb_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _pb(number: int, value: int | bytes | str, fixed32: bool = False) -> bytes:
    if fixed32:
        return _pb_varint(number << 3 | 5) + int(value).to_bytes(4, "little")  # type: ignore[arg-type]
    if isinstance(value, int):
        return _pb_varint(number << 3) + _pb_varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _pb_varint(number << 3 | 2) + _pb_varint(len(data)) + data


def gv_blob(mid: str, ms: int, kind: int, other: str, read: int, seconds: float, words=()) -> bytes:
    import struct

    blob = _pb(1, mid) + _pb(2, ms) + _pb(3, "+15555550177") + _pb(4, _pb(1, other))
    blob += _pb(6, read)
    if words:
        blob += _pb(7, b"".join(_pb(2, _pb(1, w)) for w in words))
    blob += _pb(9, struct.unpack("<I", struct.pack("<f", seconds))[0], fixed32=True)
    return blob + _pb(13, kind)


def google_voice_db() -> bytes:
    ddl = (
        "CREATE TABLE message_t (message_id TEXT PRIMARY KEY, conversation_id TEXT, "
        "message_blob BLOB)"
    )
    rows = [
        (GV_VM_ID, "t.+15551230007", gv_blob(GV_VM_ID, BASE_MS + 5 * 86_400_000, 3,
                                              "+15551230007", 0, 1.5, GV_WORDS)),
        ("aa00bb11cc22dd33", "t.+15551230008", gv_blob("aa00bb11cc22dd33",
                                                        BASE_MS + 5 * 86_400_000 + 60_000, 5,
                                                        "+15551230008", 1, 0.0)),
    ]  # fmt: skip
    return _sqlite_bytes([(ddl, ()), ("INSERT INTO message_t VALUES (?, ?, ?)", rows)], 1)


def android13_files() -> dict[str, bytes]:
    """Evidence-relative path → bytes of the Android 13 extraction (``data/`` + shared)."""
    read_amr = _amr_nb(2.0, 11)
    unread_wb = _amr_wb(1.6, 12)
    deleted_amr = _amr_nb(1.0, 13)
    orphan_amr = _amr_nb(1.0, 14)
    att_full = _amr_nb(1.2, 15)
    att_part2 = _amr_nb(1.0, 16)[6:]  # follow-on part: the #!AMR\n header skipped
    samsung = _amr_nb(1.4, 17)
    audio_root = "/data/user/0/com.android.providers.contacts/app_voicemail-data"
    b64 = base64.encodebytes(att_full)  # MIME-style lines of 76 characters
    return {
        f"{PROVIDER}/databases/calllog.db": calllog_v12(audio_root),
        f"{PROVIDER}/app_voicemail-data/{VM_READ}": read_amr,
        f"{PROVIDER}/app_voicemail-data/{VM_UNREAD_WB}": unread_wb,
        f"{PROVIDER}/app_voicemail-data/{VM_DELETED}": deleted_amr,
        f"{PROVIDER}/app_voicemail-data/{VM_ORPHAN}": orphan_amr,
        f"{DIALER}/cache/my_cache/+15551230001_11-14-23_0513PM.amr": read_amr,
        f"{DIALER}/cache/my_cache/Bob Example_11-15-23_0913AM.awb": unread_wb,
        f"{DIALER}/databases/annotated_call_log.db": annotated_call_log(),
        f"{DIALER}/shared_prefs/com.google.android.dialer_preferences.xml": dialer_prefs(),
        f"{ATT}/files/vm_7_part1": b64,
        f"{ATT}/files/vm_8_part2": att_part2,
        "data/data/com.samsung.vvm/files/.cache/3f9a1c0e": samsung,
        "data/media/0/Music/voicemail-shared-20231115_091300.amr": att_full,
        "data/media/0/Download/notes.txt": b"not audio\n",
        f"{GV}/files/accounts/1/LegacyMsgDbInstance.db": google_voice_db(),
        f"{GV}/cache/audio/{GV_VM_ID}": audio.encode(
            audio.voice_pcm(1.5, 18, rate=16000), fmt="mp3", codec="libmp3lame", rate=16000
        ),
    }


# --- Android 6 --------------------------------------------------------------------------

VM6_A = "voicemail1829376458"
VM6_B = "voicemail-402817736"


def contacts2_legacy(audio_root: str) -> bytes:
    rows = [
        {
            "_id": 1,
            "number": "+447700900001",
            "date": BASE_MS - 30 * 86_400_000,
            "duration": 3,
            "type": 4,
            "is_read": 0,
            "new": 1,
            "voicemail_uri": "content://com.android.voicemail/voicemail/1",
            "_data": f"{audio_root}/{VM6_A}",
            "has_content": 1,
            "mime_type": "audio/amr",
            "source_package": "com.android.phone",
            "transcription": "Hello from the old phone.",
            "state": 0,
            "countryiso": "GB",
        },
        {
            "_id": 2,
            "number": "+447700900002",
            "date": BASE_MS - 29 * 86_400_000,
            "duration": 1,
            "type": 4,
            "is_read": 1,
            "new": 0,
            "voicemail_uri": "content://com.android.voicemail/voicemail/2",
            "_data": f"{audio_root}/{VM6_B}",
            "has_content": 1,
            "mime_type": "audio/amr",
            "source_package": "com.android.phone",
            "state": 1,
            "countryiso": "GB",
        },
        {
            "_id": 3,
            "number": "+447700900003",
            "date": BASE_MS - 28 * 86_400_000,
            "duration": 12,
            "type": 2,
        },
    ]
    statements: list[tuple[str, tuple | list]] = [
        ("CREATE TABLE android_metadata (locale TEXT)", ()),
        ("INSERT INTO android_metadata VALUES ('en_GB')", ()),
        (_calls_ddl(CALLS_LEGACY), ()),
        (STATUS_DDL.format(unique=" UNIQUE", source_type=""), ()),
        ("CREATE TABLE raw_contacts (_id INTEGER PRIMARY KEY, display_name TEXT)", ()),
    ]
    statements += [_insert("calls", r) for r in rows]
    statements.append(
        _insert(
            "voicemail_status",
            {
                "source_package": "com.android.phone",
                "phone_account_component_name": TELEPHONY,
                "phone_account_id": "8944110068162711902F",
                "configuration_state": 0,
                "data_channel_state": 0,
                "notification_channel_state": 0,
            },
        )
    )
    return _sqlite_bytes(statements, 1109)


def dialer_archive() -> bytes:
    """2016-era Dialer ``dialer.db`` with one archived voicemail (files/voicemails/1.amr)."""
    ddl = (
        "CREATE TABLE voicemail_archive_table (_id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "number TEXT,date LONG,duration LONG,mime_type TEXT,countryiso TEXT,_data TEXT,"
        "geocoded_location TEXT,name TEXT,numbertype INTEGER,numberlabel TEXT,"
        "lookup_uri TEXT,matched_number TEXT,normalized_number TEXT,photo_id LONG,"
        "formatted_number TEXT,archived_by_user INTEGER,presentation INTEGER,"
        "subscription_component_name TEXT,subscription_id TEXT,features INTEGER,"
        "server_id INTEGER,transcription TEXT,photo_uri TEXT)"
    )
    row = {
        "_id": 1,
        "number": "+447700900001",
        "date": BASE_MS - 30 * 86_400_000,
        "duration": 3,
        "mime_type": "audio/amr",
        "countryiso": "GB",
        "_data": "/data/user/0/com.google.android.dialer/files/voicemails/1.amr",
        "archived_by_user": 1,
        "presentation": 1,
        "server_id": 1,
        "transcription": "Hello from the old phone.",
    }
    return _sqlite_bytes([(ddl, ()), _insert("voicemail_archive_table", row)], 1)


def android6_files() -> dict[str, bytes]:
    a = _amr_nb(3.0, 21)
    b = _amr_nb(1.0, 22)
    audio_root = "/data/data/com.android.providers.contacts/app_voicemail-data"
    return {
        f"{PROVIDER}/databases/contacts2.db": contacts2_legacy(audio_root),
        f"{PROVIDER}/app_voicemail-data/{VM6_A}": a,
        f"{PROVIDER}/app_voicemail-data/{VM6_B}": b,
        f"{DIALER}/databases/dialer.db": dialer_archive(),
        f"{DIALER}/files/voicemails/1.amr": a,
        "storage/emulated/0/Music/voicemail-shared-20231015_101500.amr": b,
    }


# --- packing ----------------------------------------------------------------------------


def _dirs(paths: list[str]) -> list[str]:
    found = {p.rsplit("/", i)[0] for p in paths for i in range(1, p.count("/") + 1)}
    return sorted(found)


def write_tar(
    out: Path,
    files: dict[str, bytes],
    owner: tuple[int, str] = (10123, "u0_a123"),
    dir_owner: tuple[int, str] = (1000, "system"),
) -> None:
    """GNU tar: sorted members, fixed owner and times, directories before files."""
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        for d in _dirs(list(files)):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode, info.mtime = 0o771, TAR_MTIME
            info.uid = info.gid = dir_owner[0]
            info.uname = info.gname = dir_owner[1]
            tar.addfile(info)
        for path in sorted(files):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(files[path]), 0o600, TAR_MTIME
            info.uid = info.gid = owner[0]
            info.uname = info.gname = owner[1]
            tar.addfile(info, io.BytesIO(files[path]))


def write_zip(out: Path, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100600 & 0xFFFF) << 16
            info.create_system = 3
            zf.writestr(info, files[path])


def build_android13(out: Path) -> None:
    write_tar(out, android13_files())


def build_android6(out: Path) -> None:
    write_zip(out, android6_files())


# --- adb backup (.ab) wrappers of the Android 13 content -----------------------------------

AB_PASSWORD = "vmf-ab-demo-5"  # low PBKDF2 rounds on purpose: tests should not wait
AB_ROUNDS = 20
_SUB_TOKENS = {"databases": "db", "files": "f", "shared_prefs": "sp", "cache": "c"}


def ab_member_name(path: str) -> str | None:
    """The ``adb backup`` member for an evidence path (inverse of the reader's mapping)."""
    if path.startswith("data/media/0/"):
        return "shared/0/" + path[len("data/media/0/") :]
    if not path.startswith("data/data/"):
        return None
    package, _, rest = path[len("data/data/") :].partition("/")
    sub, _, tail = rest.partition("/")
    token = _SUB_TOKENS.get(sub)
    return f"apps/{package}/{token}/{tail}" if token else f"apps/{package}/r/{rest}"


def _ab_writer():
    """The independent ``.ab`` writer of the acquisition tests (tests/acquisition/)."""
    import importlib.util

    repo = Path(__file__).resolve().parents[3]
    spec = importlib.util.spec_from_file_location(
        "android_backup_writer", repo / "tests" / "acquisition" / "android_backup_writer.py"
    )
    if spec is None or spec.loader is None:
        raise RuntimeError("tests/acquisition/android_backup_writer.py is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ab_payload(files: dict[str, bytes]) -> bytes:
    """The backup's tar: per package a ``_manifest`` stub first, then its members, sorted."""
    writer = _ab_writer()
    members: dict[str, bytes] = {}
    for path, data in files.items():
        name = ab_member_name(path)
        if name is not None:
            members[name] = data
    packages = sorted({n.split("/")[1] for n in members if n.startswith("apps/")})
    ordered = [(f"apps/{p}/_manifest", b"1\n" + p.encode() + b"\n1\n0\n") for p in packages]
    ordered += sorted(members.items())
    return writer.tar_bytes(ordered)


def build_ab(out: Path, *, version: int, password: str | None) -> None:
    writer = _ab_writer()
    payload = ab_payload(android13_files())
    writer.write_ab(
        out, payload, version=version, compressed=True, password=password, rounds=AB_ROUNDS
    )
    if password is not None:
        out.with_suffix(".password").write_text(password + "\n")


IMAGES: dict[str, Callable[[Path], None]] = {
    "android13-fs.tar": build_android13,
    "android6-fs.zip": build_android6,
    "android-encrypted-v5.ab": lambda out: build_ab(out, version=5, password=AB_PASSWORD),
    "android-v1.ab": lambda out: build_ab(out, version=1, password=None),
}
