"""Live rows of a stored SQLite database, read without touching the stored copy.

SQLite writes beside a database it opens (it may checkpoint the WAL, create or rewrite
``-shm``), and the stored copies are evidence (mode 0400). So every live read goes
through a scratch copy of the database together with its ``-wal`` and ``-shm``, opened
read-only. Deleted rows are not this module's business (see ``parsers.sqlite``).
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from parsers.base import Context, Item
from parsers.records import ProblemRecord

SIDECARS = ("-wal", "-shm")


def open_readonly_copy(item: Item, ctx: Context) -> sqlite3.Connection:
    """A read-only connection to a scratch copy of ``item`` (+ its ``-wal``/``-shm``).

    The database header and schema are read before returning, so a file that is not
    SQLite (or is corrupt) raises :class:`sqlite3.DatabaseError` here, not at the first
    query. The caller closes the connection.
    """
    folder = ctx.scratch()
    target = Path(folder) / "db.sqlite"
    shutil.copyfile(item.local_path, target)
    for suffix in SIDECARS:
        sidecar = ctx.get(item.path + suffix)
        if sidecar is not None:
            shutil.copyfile(sidecar.local_path, str(target) + suffix)
    conn = sqlite3.connect(f"{target.as_uri()}?mode=ro", uri=True)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def table_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    """Column names of ``table`` in declaration order (empty when there is no such table)."""
    quoted = '"' + table.replace('"', '""') + '"'
    return [row[1] for row in conn.execute(f"PRAGMA table_info({quoted})")]


def table_names(conn: sqlite3.Connection) -> set[str]:
    """Names of the tables the schema declares."""
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def parse_live(
    item: Item, ctx: Context, body: Callable[[sqlite3.Connection], Iterator[object]]
) -> Iterator[object]:
    """Run a parser body on a read-only scratch copy: a file that is not SQLite, or an
    SQLite error part-way, becomes a ProblemRecord, never an exception."""
    try:
        conn = open_readonly_copy(item, ctx)
    except (sqlite3.Error, OSError) as exc:
        yield ProblemRecord(item.path, "parse", f"cannot open as SQLite: {exc}", offset=0)
        return
    try:
        yield from body(conn)
    except sqlite3.Error as exc:
        yield ProblemRecord(item.path, "parse", f"SQLite error: {exc}")
    finally:
        conn.close()
