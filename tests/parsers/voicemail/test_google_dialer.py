import hashlib
import sqlite3

import pytest
from vm_folder_ctx import FolderContext
from vm_images import builder, write_tree

from parsers.records import AudioRef, FindingRecord, ProblemRecord, VoicemailRecord
from parsers.voicemail import google_dialer as g

android = builder("android")
DIALER = android.DIALER
AUDIO = f"{android.PROVIDER}/app_voicemail-data"


@pytest.fixture(scope="module")
def a13(tmp_path_factory):
    return write_tree(tmp_path_factory.mktemp("a13"), android.android13_files())


def test_share_copies_keep_local_time_raw(a13):
    ctx = FolderContext(a13)
    out = []
    for item in ctx.glob(f"{DIALER}/cache/my_cache/*"):
        out.extend(g.parse_share_copy(item, ctx))
    got = [(v.caller, v.received_utc, v.received_raw, v.extra["local_time"]) for v in out]
    assert got == [
        ("+15551230001", None, "11-14-23_0513PM", "2023-11-14T17:13"),
        ("Bob Example", None, "11-15-23_0913AM", "2023-11-15T09:13"),
    ]
    assert [v.extra["caller_is_number"] for v in out] == [True, False]
    assert out[0].audio_refs == [
        AudioRef(f"{DIALER}/cache/my_cache/+15551230001_11-14-23_0513PM.amr")
    ]
    # The copy is byte-identical to the provider's file of the same voicemail.
    copy = (a13 / out[0].audio_refs[0].path).read_bytes()
    assert copy == (a13 / AUDIO / android.VM_READ).read_bytes()


def test_share_name_forms():
    assert g.parse_share_name("notes.txt") is None
    assert g.parse_share_name("x_13-40-23_0101PM.amr") is None  # month 13
    info = g.parse_share_name("Mary_Ann_01-02-24_1200AM.mp3")
    assert (info["who"], info["local_time"], info["ext"]) == ("Mary_Ann", "2024-01-02T00:00", "mp3")
    assert g.parse_share_name("5551234_01-02-24_0930.amr")["local_time"] is None  # no AM/PM


def test_annotated_call_log_links_to_provider_audio(a13):
    ctx = FolderContext(a13)
    item = ctx.item(f"{DIALER}/databases/annotated_call_log.db")
    (vm,) = g.parse_database(item, ctx)
    assert (vm.caller, vm.received_utc, vm.duration_s, vm.transcript, vm.read) == (
        "+15551230001",
        "2023-11-14T22:13:20.123Z",
        2.0,
        android.TRANSCRIPT,
        True,
    )
    assert vm.locator == "sqlite:table=AnnotatedCallLog,rowid=2"
    assert vm.audio_refs == [AudioRef(f"{AUDIO}/{android.VM_READ}")]


def test_dialer_archive(tmp_path):
    root = write_tree(tmp_path, android.android6_files())
    ctx = FolderContext(root)
    (vm,) = g.parse_database(ctx.item(f"{DIALER}/databases/dialer.db"), ctx)
    assert (vm.caller, vm.received_utc, vm.duration_s, vm.transcript) == (
        "+447700900001",
        "2023-10-15T22:13:20Z",
        3.0,
        "Hello from the old phone.",
    )
    assert vm.audio_refs == [AudioRef(f"{DIALER}/files/voicemails/1.amr")]
    assert vm.extra["kind"] == "archived"


def test_credentials_finding_never_holds_password(a13):
    ctx = FolderContext(a13)
    item = ctx.item(f"{DIALER}/shared_prefs/com.google.android.dialer_preferences.xml")
    (f,) = g.parse_prefs(item, ctx)
    assert isinstance(f, FindingRecord)
    assert (f.code, f.severity, f.path, f.key_path, f.locator) == (
        "vvm-credentials-cleartext",
        "high",
        item.path,
        item.path,
        f"prefs:account={android.ACCOUNT}",
    )
    assert "imap.vvm.example.net:993" in f.detail
    assert f"visual_voicemail_pw_{android.ACCOUNT}" in f.detail
    assert f.extra["password_keys"] == [
        f"visual_voicemail_pw_{android.ACCOUNT}",
        f"visual_voicemail_smtp_pw_{android.ACCOUNT}",
    ]
    assert f.extra["user"] == "15555550100@vvm.example.net"
    text = repr(f)
    assert android.VVM_PASSWORD not in text and android.SMTP_PASSWORD not in text


def test_prefs_hostile_and_unrelated(tmp_path):
    sp = tmp_path / "data/data/com.google.android.dialer/shared_prefs"
    sp.mkdir(parents=True)
    (sp / "bomb.xml").write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<map><string name='visual_voicemail_pw_1'>&b;</string></map>"
    )
    (sp / "broken.xml").write_bytes(b"<map><string name='x'>")
    (sp / "nopw.xml").write_bytes(
        b"<map><string name='visual_voicemail_u_1'>user</string>"
        b"<string name='visual_voicemail_pw_1'></string></map>"
    )
    other = tmp_path / "data/data/com.example.app/shared_prefs"
    other.mkdir(parents=True)
    (other / "p.xml").write_bytes(b"<map><string name='theme'>dark</string></map>")
    (other / "broken.xml").write_bytes(b"<map")
    ctx = FolderContext(tmp_path)
    (p,) = g.parse_prefs(ctx.item(f"{sp.relative_to(tmp_path)}/bomb.xml"), ctx)
    assert isinstance(p, ProblemRecord) and "DTD" in p.message
    (p,) = g.parse_prefs(ctx.item(f"{sp.relative_to(tmp_path)}/broken.xml"), ctx)
    assert isinstance(p, ProblemRecord) and "not well-formed" in p.message
    assert list(g.parse_prefs(ctx.item(f"{sp.relative_to(tmp_path)}/nopw.xml"), ctx)) == []
    assert list(g.parse_prefs(ctx.item("data/data/com.example.app/shared_prefs/p.xml"), ctx)) == []
    assert (
        list(g.parse_prefs(ctx.item("data/data/com.example.app/shared_prefs/broken.xml"), ctx))
        == []
    )


def test_corrupt_dialer_db(tmp_path):
    db = tmp_path / "data/data/com.android.dialer/databases/annotated_call_log.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(hashlib.sha256(b"x").digest() * 100)
    conn = sqlite3.connect(tmp_path / "data/data/com.android.dialer/databases/dialer.db")
    conn.execute("CREATE TABLE AnnotatedCallLog (timestamp, call_type)")
    conn.execute("INSERT INTO AnnotatedCallLog VALUES ('bad', 4)")
    conn.commit()
    conn.close()
    ctx = FolderContext(tmp_path)
    (p,) = g.parse_database(
        ctx.item("data/data/com.android.dialer/databases/annotated_call_log.db"), ctx
    )
    assert isinstance(p, ProblemRecord) and "cannot open as SQLite" in p.message
    (vm,) = g.parse_database(ctx.item("data/data/com.android.dialer/databases/dialer.db"), ctx)
    assert isinstance(vm, VoicemailRecord)
    assert (vm.caller, vm.received_utc, vm.received_raw, vm.audio_refs) == (None, None, "bad", [])
