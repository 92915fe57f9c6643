"""End to end: ``vmforensics sqlite recover`` on evidence built with the real sqlite3."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

VOICEMAIL_SQL = (
    "CREATE TABLE voicemail (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, remote_uid INTEGER, "
    "date INTEGER, token TEXT, sender TEXT, callback_num TEXT, duration INTEGER, "
    "expiration INTEGER, trashed_date INTEGER, flags INTEGER, receiver TEXT, label TEXT)"
)


def row(i: int) -> tuple:
    return (i, 100 + i, 1_700_000_000 + i, f"tok{i}", f"+1555000{i:04d}", f"+1555000{i:04d}",
            20 + i, 0, 0, 0, "+15559999999", "")  # fmt: skip


def build_wal_image(folder: Path) -> Path:
    """A voicemail.db whose deleted message survives only in the WAL, copied as imaged."""
    work = folder / "work"
    work.mkdir()
    db = work / "voicemail.db"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA secure_delete=ON")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute(VOICEMAIL_SQL)
    con.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for i in range(1, 6):
        con.execute("INSERT INTO voicemail VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", row(i))
    con.execute("INSERT INTO blobs VALUES (1, x'00ff10')")
    con.execute("DELETE FROM voicemail WHERE ROWID = 3")
    con.execute("DELETE FROM blobs")
    image = folder / "image"
    image.mkdir()
    for name in ("voicemail.db", "voicemail.db-wal"):
        (image / name).write_bytes((work / name).read_bytes())
    con.close()
    return image / "voicemail.db"


def tree_hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_deleted_voicemail_found_only_in_the_wal(cli, tmp_path: Path) -> None:
    db = build_wal_image(tmp_path)
    assert b"tok3" not in db.read_bytes()
    before = tree_hashes(db.parent)
    res = cli("sqlite", "recover", str(db))
    assert res.code == 0, res
    assert "voicemail.db-wal" in res.err  # the WAL beside it was picked up, and said so
    out = lines(res.out)
    vm = [o for o in out if o["table"] == "voicemail"]
    assert len(vm) == 1
    rec = vm[0]
    assert rec["values"] == list(row(3))
    assert rec["recovered"] == "wal" and rec["file"] == "wal" and rec["frame"] >= 1
    assert rec["columns"][:4] == ["ROWID", "remote_uid", "date", "token"]
    assert isinstance(rec["page"], int) and isinstance(rec["offset"], int)
    assert 0 < rec["confidence"] <= 1
    blobs = [o for o in out if o["table"] == "blobs"]
    assert blobs and blobs[0]["values"] == [1, {"hex": "00ff10"}]
    assert tree_hashes(db.parent) == before  # evidence untouched, no -shm created
    assert sorted(p.name for p in db.parent.iterdir()) == ["voicemail.db", "voicemail.db-wal"]


def test_all_adds_live_rows_and_explicit_wal(cli, tmp_path: Path) -> None:
    db = build_wal_image(tmp_path)
    wal = db.with_name("voicemail.db-wal")
    moved = tmp_path / "elsewhere.wal"
    moved.write_bytes(wal.read_bytes())
    wal.unlink()
    res = cli("sqlite", "recover", str(db), "--all")
    assert res.code == 0, res
    assert not any(o["table"] == "voicemail" for o in lines(res.out))  # WAL not found
    res = cli("sqlite", "recover", str(db), "--wal", str(moved), "--all")
    assert res.code == 0, res
    out = lines(res.out)
    live = [o["values"][0] for o in out if o["table"] == "voicemail" and o["recovered"] == "live"]
    assert live == [1, 2, 4, 5]
    assert [
        o["values"][0] for o in out if o["table"] == "voicemail" and o["recovered"] == "wal"
    ] == [3]


def test_journal_beside_the_database_is_used(cli, tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA secure_delete=ON")
    con.execute("PRAGMA journal_mode=PERSIST")
    con.execute("CREATE TABLE calls (id INTEGER PRIMARY KEY, number TEXT NOT NULL, type INTEGER)")
    con.executemany("INSERT INTO calls VALUES (?,?,?)", [(i, f"+4912345{i}", 4) for i in range(9)])
    con.execute("DELETE FROM calls WHERE id = 6")
    con.close()
    res = cli("sqlite", "recover", str(db))
    assert res.code == 0, res
    assert "calls.db-journal" in res.err
    out = [o for o in lines(res.out) if o["table"] == "calls"]
    assert [(o["values"], o["recovered"], o["file"]) for o in out] == [
        ([6, "+49123456", 4], "journal", "journal")
    ]


def test_unopenable_input_is_exit_3(cli, tmp_path: Path) -> None:
    res = cli("sqlite", "recover", str(tmp_path / "missing.db"))
    assert res.code == 3
    assert "missing.db" in res.err and "Traceback" not in res.err
    db = tmp_path / "ok.db"
    sqlite3.connect(db).close()
    res = cli("sqlite", "recover", str(db), "--wal", str(tmp_path / "nope-wal"))
    assert res.code == 3


def test_garbage_is_an_error_line_not_a_traceback(cli, tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    res = cli("sqlite", "recover", str(junk))
    assert res.code == 0
    assert res.out == ""
    errors = [json.loads(x) for x in res.err.splitlines() if x.startswith("{")]
    assert errors and errors[0]["type"] == "error" and errors[0]["stage"] == "recover"
    assert errors[0]["path"] == str(junk) and "offset" in errors[0]
    assert "Traceback" not in res.err


def test_usage_errors_are_exit_2(cli) -> None:
    assert cli("sqlite").code == 2
    assert cli("sqlite", "recover").code == 2
