import shutil
import sqlite3

import pytest
from vm_folder_ctx import FolderContext
from vm_images import SHARED, builder, write_tree

from parsers.records import AudioRef, FindingRecord, ProblemRecord, VoicemailRecord
from parsers.voicemail import android_calllog as m

android = builder("android")

DB13 = "data/data/com.android.providers.contacts/databases/calllog.db"
AUDIO = "data/data/com.android.providers.contacts/app_voicemail-data"


@pytest.fixture(scope="module")
def a13(tmp_path_factory):
    return write_tree(tmp_path_factory.mktemp("a13"), android.android13_files())


def _run(root, path):
    ctx = FolderContext(root)
    return list(m.parse(ctx.item(path), ctx))


def test_android13_voicemail_rows(a13):
    records = _run(a13, DB13)
    vms = [r for r in records if isinstance(r, VoicemailRecord)]
    assert [v.locator for v in vms] == [f"sqlite:table=calls,rowid={i}" for i in (2, 3, 4, 5, 6)]
    summary = [
        (v.caller, v.received_utc, v.received_raw, v.duration_s, v.read, v.deleted) for v in vms
    ]
    assert summary == [
        ("+15551230001", "2023-11-14T22:13:20.123Z", 1700000000123, 2.0, True, False),
        ("+15551230002", "2023-11-15T22:13:20Z", 1700086400000, 2.0, False, False),
        ("+15551230003", "2023-11-16T22:13:20Z", 1700172800000, 1.0, True, True),
        ("+15551230004", "2023-11-17T22:13:20Z", 1700259200000, 3.0, False, False),
        (None, "2023-11-18T22:13:20Z", 1700345600000, 0.0, False, False),
    ]
    assert vms[0].transcript == android.TRANSCRIPT
    assert all(v.transcript is None for v in vms[1:])
    assert all(v.platform == "android" and v.callee == "+15555550100" for v in vms)
    assert vms[0].audio_refs == [AudioRef(f"{AUDIO}/{android.VM_READ}")]
    assert vms[1].audio_refs == [AudioRef(f"{AUDIO}/{android.VM_UNREAD_WB}")]
    assert vms[2].audio_refs == [AudioRef(f"{AUDIO}/{android.VM_DELETED}")]
    assert vms[3].audio_refs == []
    assert vms[3].extra["audio_present"] is False
    assert vms[3].extra["audio_path"] == f"{AUDIO}/{android.VM_MISSING}"
    assert vms[0].extra["source_package"] == "com.google.android.dialer"
    assert vms[0].extra["voicemail_uri"] == "content://com.android.voicemail/voicemail/2"
    assert vms[0].extra["subscription_id"] == android.ACCOUNT
    assert vms[0].extra["is_business_call"] == 0  # a v12 column, kept by name
    findings = [r for r in records if isinstance(r, FindingRecord)]
    assert [(f.code, f.path, f.severity) for f in findings] == [
        ("vvm-status", DB13, "info"),
        ("voicemail-audio-without-row", f"{AUDIO}/{android.VM_ORPHAN}", "info"),
    ]
    assert "com.google.android.dialer" in findings[0].detail
    assert android.ACCOUNT in findings[0].detail
    assert findings[0].extra["quota_total"] == 40
    assert not [r for r in records if isinstance(r, ProblemRecord)]


def test_android6_contacts2_and_storage_prefix(tmp_path):
    # A source that keeps a prefix before data/ still maps _data to its own files.
    files = {f"dump/{k}": v for k, v in android.android6_files().items()}
    root = write_tree(tmp_path, files)
    records = _run(root, f"dump/{android.PROVIDER}/databases/contacts2.db")
    vms = [r for r in records if isinstance(r, VoicemailRecord)]
    assert [(v.caller, v.received_utc, v.read, v.deleted, v.transcript) for v in vms] == [
        ("+447700900001", "2023-10-15T22:13:20Z", False, False, "Hello from the old phone."),
        ("+447700900002", "2023-10-16T22:13:20Z", True, True, None),  # state=1 deleted
    ]
    assert vms[0].audio_refs == [AudioRef(f"dump/{AUDIO}/{android.VM6_A}")]
    assert vms[1].audio_refs == [AudioRef(f"dump/{AUDIO}/{android.VM6_B}")]
    assert "via_number" not in vms[0].extra
    codes = [r.code for r in records if isinstance(r, FindingRecord)]
    assert codes == ["vvm-status"]  # no orphan: both files are named


def test_shadow_db_in_device_protected_storage(tmp_path, a13):
    root = tmp_path / "src"
    shutil.copytree(a13, root)
    shadow = root / "data/user_de/0/com.android.providers.contacts/databases/calllog_shadow.db"
    shadow.parent.mkdir(parents=True)
    shutil.copy(a13 / DB13, shadow)
    records = _run(root, str(shadow.relative_to(root)))
    vms = [r for r in records if isinstance(r, VoicemailRecord)]
    assert len(vms) == 5
    assert vms[0].audio_refs == [AudioRef(f"{AUDIO}/{android.VM_READ}")]
    # Only the main database reports unnamed audio files.
    assert [r.code for r in records if isinstance(r, FindingRecord)] == ["vvm-status"]


def test_unknown_version_reads_columns_by_name(tmp_path):
    db = tmp_path / "data/data/com.android.providers.contacts/databases/calllog.db"
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE calls (future_col TEXT, type INTEGER, number TEXT, date INTEGER)")
    conn.execute("INSERT INTO calls VALUES ('x', 4, '123', 'not a date')")
    conn.execute("INSERT INTO calls VALUES ('y', 1, '456', 0)")
    conn.commit()
    conn.close()
    records = _run(tmp_path, str(db.relative_to(tmp_path)))
    assert len(records) == 1
    (vm,) = records
    assert (vm.caller, vm.received_utc, vm.received_raw, vm.duration_s) == (
        "123",
        None,
        "not a date",
        None,
    )
    assert vm.read is None and vm.deleted is False
    assert vm.extra["future_col"] == "x"
    assert vm.locator == "sqlite:table=calls,rowid=1"
    assert "__rowid__" not in vm.extra


def test_corrupt_and_foreign_databases_are_problems(tmp_path):
    base = tmp_path / "data/data/com.android.providers.contacts/databases"
    base.mkdir(parents=True)
    (base / "calllog.db").write_bytes(b"SQLite format 3\x00" + b"\x00\xff" * 600)
    (base / "contacts2.db").write_bytes(b"")
    conn = sqlite3.connect(base / "calllog_shadow.db")
    conn.execute("CREATE TABLE other (a)")
    conn.commit()
    conn.close()
    for name, needle in (
        ("calllog.db", "cannot open as SQLite"),
        ("calllog_shadow.db", "no 'calls' table"),
    ):
        records = _run(tmp_path, f"data/data/com.android.providers.contacts/databases/{name}")
        assert len(records) == 1 and isinstance(records[0], ProblemRecord), records
        assert needle in records[0].message
        assert records[0].path.endswith(name)
    # An empty file is a valid empty SQLite database to SQLite: no calls table.
    records = _run(tmp_path, "data/data/com.android.providers.contacts/databases/contacts2.db")
    assert isinstance(records[0], ProblemRecord)


def test_device_path_mapping():
    near = "x/data/data/com.android.providers.contacts/databases/calllog.db"
    assert m.device_to_evidence("/data/user/0/p/app_voicemail-data/v1", near) == (
        "x/data/data/p/app_voicemail-data/v1"
    )
    assert m.device_to_evidence("/data/user/10/p/f", near) == "x/data/user/10/p/f"
    assert m.device_to_evidence("/data/user_de/0/p/f", near) == "x/data/user_de/0/p/f"
    assert m.device_to_evidence("/sdcard/x", near) is None


def test_real_andriller_calllog():
    folder = SHARED / "corpus" / "calllog-andriller"
    if not (folder / "calllog.db").is_file():
        pytest.skip(f"corpus not available at {folder}")
    # FolderContext needs the provider path layout; point it at a tree of symlinks.
    import tempfile
    from pathlib import Path

    root = Path(tempfile.mkdtemp())
    base = root / "data/data/com.android.providers.contacts/databases"
    base.mkdir(parents=True)
    for name in ("calllog.db", "calllog.db-shm", "calllog.db-wal"):
        (base / name).symlink_to((folder / name).resolve())
    records = _run(root, "data/data/com.android.providers.contacts/databases/calllog.db")
    assert not [r for r in records if isinstance(r, VoicemailRecord)]
    (status,) = records
    assert isinstance(status, FindingRecord) and status.code == "vvm-status"
    assert status.extra["source_package"] == "com.google.android.dialer"
    assert status.extra["phone_account_id"] == "8944110068162711902F"
    assert status.extra["quota_total"] == -1
    assert (folder / "calllog.db").stat().st_size == 36864  # untouched


def test_samsung_provider_and_logs_db(tmp_path, a13):
    """Samsung's provider package keeps its own calllog.db and audio folder; Samsung's
    LogsProvider keeps a ``logs`` table with the same type codes."""
    sam = "data/data/com.samsung.android.providers.contacts"
    sam_audio = "/data/user/0/com.samsung.android.providers.contacts/app_voicemail-data"
    files = {
        f"{sam}/databases/calllog.db": android.calllog_v12(sam_audio),
        f"{sam}/app_voicemail-data/{android.VM_READ}": b"#!AMR\n" + b"\x3c" + b"\x00" * 31,
        f"{sam}/app_voicemail-data/voicemail9": b"orphan",
    }
    root = write_tree(tmp_path, files)
    logs = root / "data/data/com.sec.android.provider.logsprovider/databases/logs.db"
    logs.parent.mkdir(parents=True)
    conn = sqlite3.connect(logs)
    conn.execute("CREATE TABLE logs (_id INTEGER PRIMARY KEY, number TEXT, date INTEGER, "
                 "duration INTEGER, type INTEGER, m_content TEXT)")  # fmt: skip
    conn.execute("INSERT INTO logs VALUES (7, '+15550000007', 1700000000000, 9, 4, NULL)")
    conn.execute("INSERT INTO logs VALUES (8, '+15550000008', 1700000000000, 9, 2, 'sms')")
    conn.commit()
    conn.close()
    records = _run(root, f"{sam}/databases/calllog.db")
    vms = [r for r in records if isinstance(r, VoicemailRecord)]
    assert vms[0].audio_refs == [AudioRef(f"{sam}/app_voicemail-data/{android.VM_READ}")]
    assert [v.audio_refs for v in vms[1:]] == [[], [], [], []]  # only one file was copied
    orphans = [r.path for r in records if isinstance(r, FindingRecord) and "without" in r.code]
    assert orphans == [f"{sam}/app_voicemail-data/voicemail9"]
    (vm,) = _run(root, str(logs.relative_to(root)))
    assert (vm.locator, vm.caller, vm.duration_s) == (
        "sqlite:table=logs,rowid=7",
        "+15550000007",
        9.0,
    )


def test_registry_routes_provider_paths():
    from parsers import registry

    for path in (
        DB13,
        "data/user_de/0/com.android.providers.contacts/databases/calllog_shadow.db",
        "data/data/com.android.providers.contacts/databases/contacts2.db",
        "x/data/data/com.samsung.android.providers.contacts/databases/calllog.db",
    ):
        names = [s.name for s in registry.parsers_for(path, b"SQLite format 3\x00")]
        assert names == ["android-calllog"], path
    assert registry.parsers_for(f"{AUDIO}/voicemail1", b"#!AMR\n") == []


def test_deleted_voicemail_row_is_recovered(tmp_path, a13):
    """The provider deletes the row (and the file): the row's bytes stay in the page."""
    root = tmp_path / "src"
    shutil.copytree(a13, root)
    db = root / DB13
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA secure_delete=OFF")
    conn.execute("DELETE FROM calls WHERE _id = 3")
    conn.commit()
    conn.close()
    records = _run(root, DB13)
    vms = [r for r in records if isinstance(r, VoicemailRecord)]
    live = [v for v in vms if v.recovered == "live"]
    gone = [v for v in vms if v.recovered != "live"]
    assert [v.locator for v in live] == [f"sqlite:table=calls,rowid={i}" for i in (2, 4, 5, 6)]
    assert len(gone) == 1
    (old,) = gone
    assert (old.caller, old.received_utc, old.deleted, old.read) == (
        "+15551230002",
        "2023-11-15T22:13:20Z",
        True,
        False,
    )
    assert old.recovered in ("freeblock", "freelist", "unallocated")
    assert old.path == DB13 and isinstance(old.offset, int) and 0 < old.confidence <= 1
    assert old.locator.startswith("db:page=") and "table=calls" in old.locator
    # Its audio file is still there and the recovered row names it: not an orphan.
    assert old.audio_refs == [AudioRef(f"{AUDIO}/{android.VM_UNREAD_WB}")]
    orphans = [r.path for r in records if isinstance(r, FindingRecord) and "without" in r.code]
    assert orphans == [f"{AUDIO}/{android.VM_ORPHAN}"]
