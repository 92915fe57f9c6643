"""Google Phone's own voicemail tables give back deleted rows too (issue 5 item 3)."""

from __future__ import annotations

import sqlite3

from vm_folder_ctx import FolderContext

from parsers.records import VoicemailRecord
from parsers.voicemail import google_dialer

DB = "data/data/com.google.android.dialer/databases/dialer.db"


def test_deleted_archive_row_is_recovered_from_the_wal(tmp_path):
    db = tmp_path / DB
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute(
        "CREATE TABLE voicemail_archive_table (_id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "number TEXT, date LONG, duration LONG, transcription TEXT, _data TEXT)"
    )
    conn.commit()
    for i, number in enumerate(("+15550001111", "+15550002222"), start=1):
        conn.execute(
            "INSERT INTO voicemail_archive_table (number, date, duration, transcription)"
            " VALUES (?, ?, ?, ?)",
            (number, 1700000000000 + i, 10 * i, f"note {i}"),
        )
        conn.commit()
    conn.execute("DELETE FROM voicemail_archive_table WHERE _id=2")
    conn.commit()
    snapshot = {p.name: p.read_bytes() for p in db.parent.iterdir()}
    conn.close()
    for name, data in snapshot.items():
        (db.parent / name).write_bytes(data)
    ctx = FolderContext(tmp_path)
    records = [
        r for r in google_dialer.parse_database(ctx.get(DB), ctx) if isinstance(r, VoicemailRecord)
    ]
    live = [r for r in records if r.recovered == "live"]
    gone = [r for r in records if r.recovered != "live"]
    assert [r.caller for r in live] == ["+15550001111"]
    assert len(gone) == 1 and gone[0].caller == "+15550002222" and gone[0].deleted is True
    assert gone[0].transcript == "note 2" and gone[0].recovered == "wal"
    assert gone[0].path == DB + "-wal" and gone[0].locator.startswith("wal:")
