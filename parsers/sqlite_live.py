"""Live rows through the sqlite3 module, on a scratch copy, read-only.

Opening a database can write to it (a WAL is checkpointed, a hot journal rolled back),
so SQLite never opens the stored evidence: we copy the database with its ``-wal`` and
``-shm`` into the parser's scratch folder and open that copy read-only.
"""

from __future__ import annotations

import shutil
import sqlite3

from parsers.base import Context, Item

COMPANIONS = ("-wal", "-shm", "-journal")


def open_readonly_copy(item: Item, ctx: Context) -> sqlite3.Connection:
    folder = ctx.scratch()
    target = folder / (item.name or "database.db")
    shutil.copyfile(item.local_path, target)
    for suffix in COMPANIONS:
        companion = ctx.get(item.path + suffix)
        if companion is not None:
            shutil.copyfile(companion.local_path, folder / (target.name + suffix))
    for path in folder.iterdir():
        path.chmod(0o600)
    conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    conn.text_factory = lambda b: b.decode("utf-8", "replace")
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fails fast on non-SQLite
    return conn


def table_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
