import os
import sqlite3
import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "voicemail"))

from vm_folder_ctx import FolderContext

from parsers.sqlite_live import open_readonly_copy, table_columns, table_names
from parsers.timeconv import cocoa_to_iso, unix_ms_to_iso, unix_to_iso


def test_time_conversions():
    assert unix_to_iso(0) == "1970-01-01T00:00:00Z"
    assert unix_to_iso(1700000000) == "2023-11-14T22:13:20Z"
    assert unix_to_iso(1700000000.25) == "2023-11-14T22:13:20.25Z"
    assert unix_to_iso(1700000000.0) == "2023-11-14T22:13:20Z"
    assert unix_ms_to_iso(1700000000123) == "2023-11-14T22:13:20.123Z"
    assert unix_ms_to_iso(1700000000000) == "2023-11-14T22:13:20Z"
    assert cocoa_to_iso(0) == "2001-01-01T00:00:00Z"
    assert cocoa_to_iso(722000000.5) == "2023-11-18T11:33:20.5Z"
    for bad in (-1, 10**13, float("nan"), float("inf"), True, "12", None):
        assert unix_to_iso(bad) is None
    assert unix_ms_to_iso(-5) is None
    assert unix_ms_to_iso(10**17) is None


def _wal_db(folder: Path) -> Path:
    db = folder / "data" / "x.db"
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    conn.execute("INSERT INTO t VALUES (1, 'in wal')")
    conn.commit()
    # Copy the three files while the connection still holds the WAL un-checkpointed.
    stored = folder / "stored" / "data"
    stored.mkdir(parents=True)
    for suffix in ("", "-wal", "-shm"):
        (stored / ("x.db" + suffix)).write_bytes(Path(str(db) + suffix).read_bytes())
        os.chmod(stored / ("x.db" + suffix), 0o400)
    conn.close()
    return folder / "stored"


def test_reads_wal_rows_without_touching_stored_copy(tmp_path):
    root = _wal_db(tmp_path)
    before = {p.name: p.read_bytes() for p in (root / "data").iterdir()}
    ctx = FolderContext(root)
    conn = open_readonly_copy(ctx.item("data/x.db"), ctx)
    assert table_names(conn) == {"t"}
    assert table_columns(conn, "t") == ["a", "b"]
    assert table_columns(conn, "nope") == []
    assert conn.execute("SELECT a, b FROM t").fetchall() == [(1, "in wal")]
    with pytest.raises(sqlite3.OperationalError):
        conn.execute("INSERT INTO t VALUES (2, 'x')")
    conn.close()
    after = {p.name: p.read_bytes() for p in (root / "data").iterdir()}
    assert after == before
    assert stat.S_IMODE((root / "data" / "x.db").stat().st_mode) == 0o400


def test_not_sqlite_raises_at_open(tmp_path):
    (tmp_path / "bad.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    (tmp_path / "text.db").write_bytes(b"hello " * 300)
    ctx = FolderContext(tmp_path)
    for name in ("bad.db", "text.db"):
        with pytest.raises(sqlite3.DatabaseError):
            open_readonly_copy(ctx.item(name), ctx)
