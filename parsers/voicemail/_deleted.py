"""Deleted and older versions of voicemail rows, from our own SQLite reader.

The live rows come from the sqlite3 module; this module asks ``parsers.sqlite.recover``
for what SQLite no longer shows (older WAL frames, freelist pages, freeblocks,
unallocated space, the rollback journal) and hands back rows of the wanted tables with
the file, page and byte offset they were read from, so each voicemail line points at the
exact bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from parsers.base import Context, Item
from parsers.records import ProblemRecord
from parsers.sqlite.recover import RecoveredRow, SqliteProblem, recover


@dataclass(frozen=True)
class Recovered:
    row: dict[str, Any]  # column -> value
    table: str
    path: str  # evidence path of the file the bytes were read from (db, -wal, -journal)
    locator: str
    offset: int | None
    recovered: str
    confidence: float


def _locator(rec: RecoveredRow) -> str:
    parts = [f"{'wal' if rec.file == 'wal' else rec.file}:"]
    fields = []
    if rec.frame is not None:
        fields.append(f"frame={rec.frame}")
    if rec.page is not None:
        fields.append(f"page={rec.page}")
    fields.append(f"table={rec.table}")
    if rec.rowid is not None:
        fields.append(f"rowid={rec.rowid}")
    fields.append(rec.recovered)
    return parts[0] + ",".join(fields)


def recovered_rows(
    item: Item, ctx: Context, tables: Iterable[str]
) -> Iterator[Recovered | ProblemRecord]:
    wanted = set(tables)
    companions = {
        kind: ctx.get(item.path + suffix)
        for kind, suffix in (("wal", "-wal"), ("journal", "-journal"))
    }
    paths = {"db": item.path, **{k: v.path for k, v in companions.items() if v is not None}}
    wal, journal = companions["wal"], companions["journal"]
    try:
        found = recover(
            item.local_path,
            wal=wal.local_path if wal is not None else None,
            journal=journal.local_path if journal is not None else None,
        )
        for rec in found:
            if isinstance(rec, SqliteProblem):
                yield ProblemRecord(
                    paths.get(rec.file, item.path), "recover", rec.message, offset=rec.offset
                )
                continue
            if rec.table not in wanted or rec.columns is None:
                continue
            row = dict(zip(rec.columns, rec.values, strict=False))
            if rec.rowid is not None:
                for key in ("ROWID", "_id"):
                    if key in row and row[key] is None:
                        row[key] = rec.rowid
            yield Recovered(
                row,
                rec.table,
                paths.get(rec.file, item.path),
                _locator(rec),
                rec.offset,
                rec.recovered,
                round(float(rec.confidence), 3),
            )
    except Exception as exc:  # the reader never raises by contract; stay safe anyway
        yield ProblemRecord(item.path, "recover", f"recovery failed: {type(exc).__name__}: {exc}")


def differs(old: dict[str, Any], live: dict[str, Any]) -> bool:
    """True when a recovered older version says something the live row does not."""
    return any(live.get(k) != v for k, v in old.items() if k in live and v is not None)
