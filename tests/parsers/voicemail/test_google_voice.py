import sqlite3

import pytest
from vm_folder_ctx import FolderContext
from vm_images import builder, write_tree

from parsers.records import AudioRef, ProblemRecord, VoicemailRecord
from parsers.voicemail import google_voice as gv

android = builder("android")
DB = f"{android.GV}/files/accounts/1/LegacyMsgDbInstance.db"


@pytest.fixture(scope="module")
def a13(tmp_path_factory):
    return write_tree(tmp_path_factory.mktemp("a13"), android.android13_files())


def test_voicemail_from_protobuf(a13):
    ctx = FolderContext(a13)
    (vm,) = gv.parse(ctx.item(DB), ctx)  # the SMS row (kind 5) is not a voicemail
    assert isinstance(vm, VoicemailRecord)
    assert (vm.caller, vm.callee, vm.received_utc, vm.received_raw) == (
        "+15551230007",
        "+15555550177",
        "2023-11-19T22:13:20Z",
        1700432000000,
    )
    assert (vm.duration_s, vm.read, vm.deleted) == (1.5, False, False)
    assert vm.transcript == "Hey, it's Frank from the garage."
    assert vm.locator == "sqlite:table=message_t,rowid=1"
    assert vm.audio_refs == [AudioRef(f"{android.GV}/cache/audio/{android.GV_VM_ID}")]
    assert (vm.extra["account"], vm.extra["message_id"]) == ("1", android.GV_VM_ID)


def test_hostile_blobs(tmp_path):
    db = tmp_path / DB
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE message_t (message_blob BLOB)")
    for blob in (b"\xff\xff\xff", b"\x0a\x50abc", b"\x08" + b"\xff" * 20, "text", None):
        conn.execute("INSERT INTO message_t VALUES (?)", (blob,))
    # kind 3 with every other field missing or of the wrong type
    conn.execute("INSERT INTO message_t VALUES (?)", (gv_fields(),))
    conn.commit()
    conn.close()
    ctx = FolderContext(tmp_path)
    out = list(gv.parse(ctx.item(DB), ctx))
    problems = [r for r in out if isinstance(r, ProblemRecord)]
    assert [p.locator for p in problems] == [f"sqlite:table=message_t,rowid={i}" for i in (1, 2, 3)]
    (vm,) = [r for r in out if isinstance(r, VoicemailRecord)]
    assert (vm.caller, vm.received_utc, vm.duration_s, vm.transcript, vm.audio_refs) == (
        None,
        None,
        None,
        None,
        [],
    )


def gv_fields() -> bytes:
    return android._pb(2, b"not-a-number") + android._pb(4, 7) + android._pb(13, 3)


def test_not_a_database(tmp_path):
    db = tmp_path / DB
    db.parent.mkdir(parents=True)
    db.write_bytes(b"garbage" * 100)
    ctx = FolderContext(tmp_path)
    (p,) = gv.parse(ctx.item(DB), ctx)
    assert isinstance(p, ProblemRecord) and "cannot open as SQLite" in p.message
