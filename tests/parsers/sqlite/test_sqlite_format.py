"""The file-format reader on its own: headers, schema SQL, pointer maps, WAL, journal."""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

import pytest
from sqlite_builders import connect, make_voicemail_db, snapshot

from parsers.sqlite import btree
from parsers.sqlite.database import Database
from parsers.sqlite.errors import SqliteFormatError
from parsers.sqlite.journal import journal_pages
from parsers.sqlite.pagefile import PagedFile
from parsers.sqlite.schema import parse_create_table
from parsers.sqlite.wal import COMMITTED, STALE, UNCOMMITTED, Wal

pytestmark = pytest.mark.timeout(60)


def test_database_header_fields(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    con = sqlite3.connect(db)
    con.execute("PRAGMA page_size=8192")
    con.execute("PRAGMA user_version=7")
    con.execute("CREATE TABLE t (a)")
    con.executemany("INSERT INTO t VALUES (?)", [(b"x" * 900,) for _ in range(40)])
    con.commit()
    con.close()
    with PagedFile(db, "db") as f:
        d = Database(f)
        assert d.page_size == 8192 and d.usable == 8192
        assert d.header.user_version == 7
        assert d.page_count == db.stat().st_size // 8192
        tables, others, problems = d.schema()
        assert [t.name for t in tables] == ["t"] and others == [] and problems == []
        root = d.page(tables[0].root)
        hdr = btree.parse_header(root.data, 0, d.usable)
        assert hdr.kind == btree.INTERIOR_TABLE and hdr.right_child


def test_schema_sql_parser() -> None:
    t = parse_create_table(
        "vm",
        2,
        'CREATE TABLE "vm" ("ROWID" INTEGER PRIMARY KEY AUTOINCREMENT, [date] INT NOT NULL, '
        "`text` VARCHAR(255) DEFAULT 'a,b', price DECIMAL(10, 2), data BLOB, x, "
        "y DOUBLE PRECISION, CONSTRAINT u UNIQUE (date, text))",
    )
    assert t.column_names == ["ROWID", "date", "text", "price", "data", "x", "y"]
    assert [c.affinity for c in t.columns] == [
        "INTEGER", "INTEGER", "TEXT", "NUMERIC", "BLOB", "BLOB", "REAL",
    ]  # fmt: skip
    assert t.columns[0].rowid_alias and not t.columns[1].rowid_alias
    assert t.columns[1].not_null and not t.columns[2].not_null
    w = parse_create_table("w", 3, "CREATE TABLE w (b TEXT, a INT, PRIMARY KEY (a)) WITHOUT ROWID")
    assert w.without_rowid and [c.name for c in w.stored_columns()] == ["a", "b"]
    pk = parse_create_table("p", 4, "CREATE TABLE p (id INTEGER, v TEXT, PRIMARY KEY (id))")
    assert pk.columns[0].rowid_alias
    desc = parse_create_table("d", 5, "CREATE TABLE d (id INTEGER PRIMARY KEY DESC, v)")
    assert not desc.columns[0].rowid_alias
    assert parse_create_table("s", 6, "CREATE TABLE s AS SELECT 1").columns == []


def test_pointer_map_pages_of_an_auto_vacuum_database(tmp_path: Path) -> None:
    db = tmp_path / "av.db"
    con = sqlite3.connect(db)
    con.execute("PRAGMA auto_vacuum=FULL")
    con.execute("CREATE TABLE a (x)")
    con.execute("CREATE TABLE b (y)")
    con.executemany("INSERT INTO a VALUES (?)", [(b"z" * 6000,) for _ in range(20)])
    con.commit()
    roots = dict(con.execute("SELECT name, rootpage FROM sqlite_master"))
    con.close()
    with PagedFile(db, "db") as f:
        d = Database(f)
        assert d.header.largest_root_page == max(roots.values())
        assert d.ptrmap_pages() == [2]
        entries = {page: (kind, parent) for page, kind, parent in d.ptrmap_entries(2)}
        assert entries[roots["a"]] == (1, 0) and entries[roots["b"]] == (1, 0)
        kinds = {kind for kind, _ in entries.values()}
        assert 3 in kinds or 4 in kinds  # overflow pages (first or later) are mapped
        assert len(entries) == d.page_count - 2  # every page after the map is described


def test_wal_frames_states_and_salts(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    con = connect(db, secure_delete=True, journal_mode="wal")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("CREATE TABLE t (v TEXT)")
    con.execute("INSERT INTO t VALUES ('a')")
    con.execute("BEGIN")
    con.execute("INSERT INTO t VALUES ('b')")
    _, image_wal = snapshot([db, db.with_name("w.db-wal")], tmp_path / "image")
    con.execute("COMMIT")
    con.close()
    with PagedFile(image_wal, "wal") as f:
        wal = Wal(f)
        frames = list(wal.frames())
        assert frames and all(fr.state == COMMITTED for fr in frames)
        assert frames[-1].commit_size >= 2
    # an uncommitted tail: append a copy of the last frame without its commit mark
    raw = bytearray(image_wal.read_bytes())
    last = raw[-(24 + 4096) :]
    tail = bytearray(last)
    tail[4:8] = b"\x00\x00\x00\x00"
    raw += tail
    image_wal.write_bytes(bytes(raw))
    with PagedFile(image_wal, "wal") as f:
        wal = Wal(f)
        states = [fr.state for fr in wal.frames()]
        # the checksum chain breaks (the copy's checksum belongs to another position)
        assert states[-1] in (STALE, UNCOMMITTED) and states[:-1] == [COMMITTED] * (len(states) - 1)
    # a salt from another generation
    raw = bytearray(image_wal.read_bytes())
    raw[32 + 8] ^= 0xFF
    image_wal.write_bytes(bytes(raw))
    with PagedFile(image_wal, "wal") as f:
        wal = Wal(f)
        assert all(fr.state == STALE for fr in wal.frames()) and wal.committed == {}


def test_wal_header_problems(tmp_path: Path) -> None:
    path = tmp_path / "x-wal"
    path.write_bytes(b"\x37\x7f\x06\x82" + b"\x00" * 10)
    with PagedFile(path, "wal") as f:
        assert Wal(f).problems
    path.write_bytes(struct.pack(">8I", 0x377F0682, 3007000, 4096, 0, 1, 2, 3, 4) + b"\x00" * 100)
    with PagedFile(path, "wal") as f:
        wal = Wal(f)
        assert any("checksum" in p.message for p in wal.problems)
        assert any("partial frame" in p.message for p in wal.problems)


def test_hot_journal_header_and_checksums(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    con = make_voicemail_db(db, rows=40, secure_delete=True)
    con.execute("BEGIN")
    con.execute("DELETE FROM voicemail WHERE ROWID > 10")
    # mid-transaction the journal is hot: copy it as a crash would leave it
    journal = db.with_name("j.db-journal")
    image = tmp_path / "image"
    image.mkdir()
    (image / "j.db-journal").write_bytes(journal.read_bytes())
    con.execute("ROLLBACK")
    con.close()
    with PagedFile(image / "j.db-journal", "journal") as f:
        pages = list(journal_pages(f, 4096))
    problems = [p for p in pages if isinstance(p, SqliteFormatError)]
    pages = [p for p in pages if not isinstance(p, SqliteFormatError)]
    assert [p.message for p in problems] == ["journal header magic not yet written (hot journal)"]
    assert pages and all(p.checksum_ok for p in pages)
    assert {p.page_number for p in pages} >= {2}


def test_pagedfile_refuses_big_reads_and_reads_past_the_end(tmp_path: Path) -> None:
    path = tmp_path / "small"
    path.write_bytes(b"a" * 100)
    with PagedFile(path, "db") as f:
        with pytest.raises(SqliteFormatError):
            f.read_at(50, 100)
        with pytest.raises(SqliteFormatError):
            f.read_at(0, 10_000_000)
        assert f.read_at(10, 5) == b"aaaaa"
