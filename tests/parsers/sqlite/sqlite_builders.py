"""Build real SQLite databases with the sqlite3 module for the recovery tests.

Debian's SQLite is compiled with SECURE_DELETE on by default, so every builder sets
``secure_delete`` explicitly: the tests say which behaviour they rely on.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:  # so `parsers` is the package, not tests/parsers
    sys.path.insert(0, str(REPO))

VOICEMAIL_SQL = (
    "CREATE TABLE voicemail (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, remote_uid INTEGER, "
    "date INTEGER, token TEXT, sender TEXT, callback_num TEXT, duration INTEGER, "
    "expiration INTEGER, trashed_date INTEGER, flags INTEGER, receiver TEXT, label TEXT)"
)
TRANSCRIPT_SQL = (
    "CREATE TABLE transcript (id INTEGER PRIMARY KEY, voicemail_id INTEGER NOT NULL, "
    "text TEXT NOT NULL, audio BLOB)"
)


def voicemail_row(i: int) -> tuple:
    return (
        i,
        1000 + i,
        1_700_000_000 + 3600 * i,
        f"token-{i:04d}",
        f"+4930555{i:04d}",
        f"+4930555{i:04d}",
        10 + i,
        0,
        0,
        2 if i % 2 else 0,
        "+491700000000",
        f"Label {i}",
    )


def connect(path: Path, secure_delete: bool, journal_mode: str = "delete") -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute(f"PRAGMA secure_delete={'ON' if secure_delete else 'OFF'}")
    con.execute(f"PRAGMA journal_mode={journal_mode}")
    return con


def make_voicemail_db(
    path: Path, rows: int = 30, secure_delete: bool = False
) -> sqlite3.Connection:
    con = connect(path, secure_delete)
    con.execute(VOICEMAIL_SQL)
    con.execute("BEGIN")
    con.executemany(
        "INSERT INTO voicemail VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        [voicemail_row(i) for i in range(1, rows + 1)],
    )
    con.execute("COMMIT")
    return con


def snapshot(files: list[Path], dest: Path) -> list[Path]:
    """Copy a database and its companions as an examiner would image them."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files:
        target = dest / f.name
        if f.exists():
            shutil.copyfile(f, target)
        out.append(target)
    return out


def sqlite_rows(path: Path, table: str) -> list[tuple]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        try:
            return list(con.execute(f'SELECT * FROM "{table}" ORDER BY rowid'))
        except sqlite3.OperationalError:  # WITHOUT ROWID
            return list(con.execute(f'SELECT * FROM "{table}"'))
    finally:
        con.close()
