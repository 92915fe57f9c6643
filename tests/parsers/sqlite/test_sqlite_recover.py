"""Recovery from databases built here with the real sqlite3 module: exact values back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlite_builders import (
    TRANSCRIPT_SQL,
    connect,
    make_voicemail_db,
    snapshot,
    sqlite_rows,
    voicemail_row,
)

from parsers.sqlite.recover import RecoveredRow, SqliteProblem, live_rows, recover

pytestmark = pytest.mark.timeout(60)


def rows_of(items) -> list[RecoveredRow]:
    return [r for r in items if isinstance(r, RecoveredRow)]


def problems_of(items) -> list[SqliteProblem]:
    return [r for r in items if isinstance(r, SqliteProblem)]


def by_values(rows: list[RecoveredRow]) -> dict[tuple, RecoveredRow]:
    return {tuple(r.values): r for r in rows}


def test_deleted_rows_come_back_from_freeblocks_without_secure_delete(tmp_path: Path) -> None:
    db = tmp_path / "voicemail.db"
    con = make_voicemail_db(db, rows=30, secure_delete=False)
    con.execute("DELETE FROM voicemail WHERE ROWID IN (3, 7, 12, 20)")
    con.close()
    items = list(recover(db))
    assert problems_of(items) == []
    found = by_values(rows_of(items))
    for i in (3, 7, 12, 20):
        # every stored value exact; the ROWID (an alias of the cell's rowid) was in the
        # four bytes the freeblock header overwrote, so it is honestly unknown
        row = found[(None, *voicemail_row(i)[1:])]
        assert row.table == "voicemail"
        assert row.columns[0] == "ROWID"
        assert row.rowid is None
        assert row.recovered in ("freeblock", "unallocated")
        assert row.page == 2
        assert row.file == "db"
        assert 0.5 <= row.confidence <= 1
    # nothing else: live rows are not reported, no junk
    assert len(found) == 4
    # the offset points into the file where the record's bytes lie
    raw = db.read_bytes()
    row = found[(None, *voicemail_row(7)[1:])]
    assert raw.find(b"token-0007") in range(row.offset, row.offset + 120)


def test_secure_delete_leaves_nothing_to_recover(tmp_path: Path) -> None:
    db = tmp_path / "voicemail.db"
    con = make_voicemail_db(db, rows=30, secure_delete=True)
    con.execute("DELETE FROM voicemail WHERE ROWID IN (3, 7, 12, 20)")
    con.close()
    assert b"token-0007" not in db.read_bytes()
    items = list(recover(db))
    assert rows_of(items) == []
    assert problems_of(items) == []


def test_include_live_matches_sqlite_and_recovered_rows_follow(tmp_path: Path) -> None:
    db = tmp_path / "voicemail.db"
    con = make_voicemail_db(db, rows=25, secure_delete=False)
    con.execute("DELETE FROM voicemail WHERE ROWID = 5")
    con.close()
    items = rows_of(recover(db, include_live=True))
    live = [tuple(r.values) for r in items if r.recovered == "live" and r.table == "voicemail"]
    assert live == sqlite_rows(db, "voicemail")
    assert [r.values for r in items if r.recovered != "live"] == [[None, *voicemail_row(5)[1:]]]


def test_deleted_row_only_in_an_older_wal_frame(tmp_path: Path) -> None:
    db = tmp_path / "voicemail.db"
    con = connect(db, secure_delete=True, journal_mode="wal")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute(
        "CREATE TABLE voicemail (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, remote_uid INTEGER, "
        "date INTEGER, token TEXT, sender TEXT, callback_num TEXT, duration INTEGER, "
        "expiration INTEGER, trashed_date INTEGER, flags INTEGER, receiver TEXT, label TEXT)"
    )
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for i in range(1, 11):
        con.execute("INSERT INTO voicemail VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", voicemail_row(i))
    con.execute("DELETE FROM voicemail WHERE ROWID = 4")
    db2, wal2 = snapshot([db, db.with_name("voicemail.db-wal")], tmp_path / "image")
    con.close()
    assert b"token-0004" not in db2.read_bytes()  # the db file never saw it
    assert b"token-0004" in wal2.read_bytes()
    live = rows_of(live_rows(db2, wal2))
    assert [tuple(r.values) for r in live if r.table == "voicemail"] == [
        voicemail_row(i) for i in range(1, 11) if i != 4
    ]
    found = rows_of(recover(db2, wal2))
    # older versions of sqlite_sequence (the AUTOINCREMENT counter) come back too
    assert {r.table for r in found} == {"voicemail", "sqlite_sequence"}
    found = [r for r in found if r.table == "voicemail"]
    assert [r.values for r in found] == [list(voicemail_row(4))]
    row = found[0]
    assert (row.recovered, row.file, row.table, row.rowid) == ("wal", "wal", "voicemail", 4)
    assert row.frame is not None and row.frame >= 1
    frame_start = 32 + (row.frame - 1) * (24 + 4096)
    assert frame_start + 24 <= row.offset < frame_start + 24 + 4096
    # without the WAL the row is invisible
    assert rows_of(recover(db2)) == []


def test_older_version_of_an_updated_row_is_reported_once(tmp_path: Path) -> None:
    db = tmp_path / "voicemail.db"
    con = connect(db, secure_delete=True, journal_mode="wal")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute(TRANSCRIPT_SQL)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("INSERT INTO transcript VALUES (1, 1, 'call me back', NULL)")
    con.execute("INSERT INTO transcript VALUES (2, 2, 'unchanged', NULL)")
    for n in range(3):  # the same old version ends up in several frames
        con.execute("UPDATE transcript SET text = ? WHERE id = 1", (f"edited {n}",))
    db2, wal2 = snapshot([db, db.with_name("voicemail.db-wal")], tmp_path / "image")
    con.close()
    found = rows_of(recover(db2, wal2))
    values = sorted(tuple(r.values) for r in found)
    assert values == [
        (1, 1, "call me back", None),
        (1, 1, "edited 0", None),
        (1, 1, "edited 1", None),
    ]
    assert all(r.recovered == "wal" for r in found)


def test_rollback_journal_holds_the_deleted_rows(tmp_path: Path) -> None:
    db = tmp_path / "voicemail.db"
    con = make_voicemail_db(db, rows=20, secure_delete=True)
    con.execute("PRAGMA journal_mode=PERSIST")
    con.execute("DELETE FROM voicemail WHERE ROWID IN (2, 9)")
    con.close()
    journal = db.with_name("voicemail.db-journal")
    assert journal.stat().st_size > 4096
    assert b"token-0009" not in db.read_bytes()
    items = list(recover(db, journal=journal))
    found = by_values(rows_of(items))
    assert set(found) == {voicemail_row(2), voicemail_row(9)}
    assert {r.recovered for r in found.values()} == {"journal"}
    assert {r.file for r in found.values()} == {"journal"}
    # PERSIST zeroes the journal header at commit: reported, and the pages still read
    assert any("journal" in p.message for p in problems_of(items))


def test_long_transcript_with_overflow_pages_comes_back_exactly(tmp_path: Path) -> None:
    db = tmp_path / "transcripts.db"
    con = connect(db, secure_delete=False)
    con.execute(TRANSCRIPT_SQL)
    long_text = " ".join(f"word{i}" for i in range(2500))  # ~20 KB: several overflow pages
    blob = bytes(range(256)) * 30
    con.execute("BEGIN")
    for i in range(1, 6):
        con.execute("INSERT INTO transcript VALUES (?,?,?,?)", (i, i, f"short {i}", None))
    con.execute("INSERT INTO transcript VALUES (?,?,?,?)", (10, 10, "filler " * 900, None))
    con.execute("INSERT INTO transcript VALUES (?,?,?,?)", (11, 7, long_text, blob))
    con.execute("COMMIT")
    # a first delete puts a freelist trunk in place, so the transcript's overflow
    # pages become freelist leaves whose bytes SQLite leaves untouched
    con.execute("DELETE FROM transcript WHERE id = 10")
    con.execute("DELETE FROM transcript WHERE id = 11")
    con.close()
    found = rows_of(recover(db))
    match = [r for r in found if r.values[2] == long_text]
    assert len(match) == 1
    row = match[0]
    assert row.values == [None, 7, long_text, blob]  # the rowid alias was overwritten
    assert row.table == "transcript"
    assert row.recovered in ("freeblock", "unallocated")


def test_dropped_table_rows_come_back_from_the_freelist(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    con = connect(db, secure_delete=False)
    con.execute("CREATE TABLE keep (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO keep VALUES (1, 'stays')")
    con.execute("CREATE TABLE gone (id INTEGER PRIMARY KEY, caller TEXT NOT NULL, secs INTEGER)")
    con.execute("BEGIN")
    for i in range(200):
        con.execute("INSERT INTO gone VALUES (?,?,?)", (i, f"+1555{i:07d}", i * 3))
    con.execute("COMMIT")
    con.execute("DROP TABLE gone")
    con.close()
    found = rows_of(recover(db))
    gone = {tuple(r.values) for r in found if r.table == "gone"}
    assert gone == {(i, f"+1555{i:07d}", i * 3) for i in range(200)}
    assert {r.recovered for r in found if r.table == "gone"} <= {"freelist", "unallocated"}
    schema = [r for r in found if r.table == "sqlite_master"]
    assert any("CREATE TABLE gone" in str(r.values[4]) for r in schema)


def test_without_rowid_and_index_pages_are_not_reported_as_rows(tmp_path: Path) -> None:
    db = tmp_path / "idx.db"
    con = connect(db, secure_delete=False)
    con.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    con.execute("CREATE INDEX t_b ON t(b)")
    con.execute("CREATE TABLE w (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID")
    con.execute("BEGIN")
    for i in range(50):
        con.execute("INSERT INTO t VALUES (?, ?)", (i, f"value {i}"))
        con.execute("INSERT INTO w VALUES (?, ?)", (f"k{i}", i))
    con.execute("COMMIT")
    con.execute("INSERT INTO w VALUES (?, ?)", ("long key " * 200, -1))  # an overflowing key
    con.execute("DELETE FROM t WHERE a = 10")
    con.close()
    found = rows_of(recover(db))
    assert [r.values for r in found] == [[10, "value 10"]]
    live = rows_of(live_rows(db))
    ours = sorted(tuple(r.values) for r in live if r.table == "w")
    assert ours == sorted(sqlite_rows(db, "w")) and len(ours) == 51
    assert all(r.rowid is None for r in live if r.table == "w")


def test_live_rows_equal_sqlite_for_every_storage_class(tmp_path: Path) -> None:
    db = tmp_path / "types.db"
    con = connect(db, secure_delete=True)
    con.execute("CREATE TABLE v (i INTEGER PRIMARY KEY, n, r REAL, t TEXT, b BLOB)")
    values = [
        (1, None, 1.5, "", b""),
        (2, 0, -2.25, "ü€😀", b"\x00\x01"),
        (3, 1, 1e300, "x" * 5000, b"\xff" * 9000),
        (4, -1, 0.0, "tab\tnew\nline", None),
        (5, 2**63 - 1, -0.5, "a", b"z"),
        (6, -(2**63), 3.0, "b", b"y"),
        (7, 127, None, None, None),
        (8, 32768, 2.0**60, "c", b"w"),
        (9, 2**40, 1.0, "d", b"v"),
    ]
    con.executemany("INSERT INTO v VALUES (?,?,?,?,?)", values)
    con.close()
    ours = [tuple(r.values) for r in rows_of(live_rows(db)) if r.table == "v"]
    assert ours == sqlite_rows(db, "v")


def test_utf16_database_text_decodes(tmp_path: Path) -> None:
    db = tmp_path / "utf16.db"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA encoding='UTF-16le'")
    con.execute("PRAGMA secure_delete=OFF")
    con.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, who TEXT NOT NULL, what TEXT)")
    for i in range(1, 6):
        con.execute("INSERT INTO m VALUES (?,?,?)", (i, f"Anrufer {i}", f"Nachricht Nr. {i}"))
    con.execute("DELETE FROM m WHERE id = 3")
    con.close()
    assert [tuple(r.values) for r in rows_of(live_rows(db))][-4:] == sqlite_rows(db, "m")
    found = rows_of(recover(db))
    assert [r.values for r in found] == [[None, "Anrufer 3", "Nachricht Nr. 3"]]


@pytest.mark.parametrize("rowid", [100, 150, 300, 20000])
def test_freed_cell_with_large_rowid_and_payload(tmp_path: Path, rowid: int) -> None:
    """Payload >= 128 and rowid >= 128: the varints fill the four overwritten bytes."""
    db = tmp_path / "big-ids.db"
    con = connect(db, secure_delete=False)
    con.execute(TRANSCRIPT_SQL)
    con.execute("BEGIN")
    for i in (rowid - 2, rowid - 1, rowid, rowid + 1, rowid + 2):
        text = f"transcript number {i} " * 8  # ~200 bytes: a two-byte payload length
        con.execute("INSERT INTO transcript VALUES (?,?,?,?)", (i, i % 97, text, None))
    con.execute("COMMIT")
    con.execute("DELETE FROM transcript WHERE id = ?", (rowid,))
    con.close()
    found = rows_of(recover(db))
    assert [r.values for r in found] == [
        [None, rowid % 97, f"transcript number {rowid} " * 8, None]
    ]
    assert found[0].table == "transcript" and found[0].confidence >= 0.75


@pytest.fixture(scope="module")
def busy_db(tmp_path_factory) -> Path:
    """Thousands of voicemails and transcripts, page splits, then scattered deletes."""
    db = tmp_path_factory.mktemp("busy") / "busy.db"
    con = connect(db, secure_delete=False)
    con.execute(
        "CREATE TABLE voicemail (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, remote_uid INTEGER, "
        "date INTEGER, token TEXT, sender TEXT, callback_num TEXT, duration INTEGER, "
        "expiration INTEGER, trashed_date INTEGER, flags INTEGER, receiver TEXT, label TEXT)"
    )
    con.execute("CREATE TABLE transcript (id INTEGER PRIMARY KEY, vm INTEGER, text TEXT)")
    con.execute("BEGIN")
    for i in range(1, 12001):
        con.execute("INSERT INTO voicemail VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", voicemail_row(i))
        if i % 4 == 0:
            con.execute("INSERT INTO transcript VALUES (?,?,?)", (i, i, _transcript(i)))
    con.execute("COMMIT")
    con.execute("DELETE FROM voicemail WHERE ROWID % 13 = 0")
    con.execute("DELETE FROM transcript WHERE id % 17 = 0")
    con.close()
    return db


def _int_bytes(i: int) -> bytes:
    size = next(n for n in (1, 2, 3, 4, 6, 8) if -(1 << (8 * n - 1)) <= i < 1 << (8 * n - 1))
    return i.to_bytes(size, "big", signed=True)


def _transcript(i: int) -> str:
    words = ["please", "call", "me", "back", "about", "the", "invoice", "doctor", "tomorrow"]
    return " ".join(words[(i * 7 + k * k) % len(words)] for k in range(5 + i % 300))


def test_every_intact_deleted_row_and_nothing_else(busy_db: Path) -> None:
    raw = busy_db.read_bytes()
    found = rows_of(recover(busy_db))
    deleted_vm = {i for i in range(1, 12001) if i % 13 == 0}
    deleted_tr = {i for i in range(4, 12001, 4) if i % 17 == 0}
    got_vm = {r.values[1] - 1000 for r in found if r.table == "voicemail"}
    got_tr = {r.values[1] for r in found if r.table == "transcript"}
    # nothing that was not deleted (no live duplicates, no junk)
    assert got_vm <= deleted_vm and got_tr <= deleted_tr
    assert {r.table for r in found} <= {"voicemail", "transcript"}
    for r in found:
        i = r.values[1] - 1000 if r.table == "voicemail" else r.values[1]
        want = voicemail_row(i) if r.table == "voicemail" else (i, i, _transcript(i))
        assert r.values[1:] == list(want[1:])  # every stored value exact
        assert r.values[0] in (None, want[0])  # the rowid alias, when it survived
    # every deleted transcript whose text is still in the file is recovered
    # (the record body: the vm number as SQLite stores it, then the text; texts alone
    # repeat as prefixes of one another)
    intact_tr = {i for i in deleted_tr if _int_bytes(i) + _transcript(i).encode() in raw}
    assert got_tr == intact_tr and len(intact_tr) > 100
    intact_vm = {i for i in deleted_vm if f"token-{i:04d}+4930555{i:04d}".encode() in raw}
    assert got_vm == intact_vm and len(intact_vm) > 800


def test_wal_beside_an_empty_database_file(tmp_path: Path) -> None:
    """Never checkpointed: every page, the header included, lives in the WAL."""
    db = tmp_path / "a.db"
    con = connect(db, secure_delete=True, journal_mode="wal")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    con.execute("INSERT INTO t VALUES (1, 'kept'), (2, 'erased')")
    con.execute("DELETE FROM t WHERE id = 2")
    image = tmp_path / "image"
    image.mkdir()
    (image / "a.db").write_bytes(b"")
    (image / "a.db-wal").write_bytes(db.with_name("a.db-wal").read_bytes())
    con.close()
    items = rows_of(recover(image / "a.db", image / "a.db-wal", include_live=True))
    t = [(r.values, r.recovered, r.file) for r in items if r.table == "t"]
    assert t == [([1, "kept"], "live", "wal"), ([2, "erased"], "wal", "wal")]
