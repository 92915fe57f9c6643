"""``vmforensics sqlite recover``: deleted SQLite records as JSON lines.

For examiners who want to check our recovery against other tools or ground truth: one
JSON object per record on standard output, problems as ``{"type": "error"}`` lines on
standard error. The evidence files are only ever opened read-only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from parsers.sqlite.recover import RecoveredRow, SqliteProblem, recover
from vmforensics.errors import EXIT_OK, InputError

NAME = "sqlite"
HELP = "SQLite tools: recover deleted records from a database, its WAL and journal"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(
        dest="sqlite_command", metavar="SUBCOMMAND", required=True, parser_class=type(parser)
    )
    p = sub.add_parser(
        "recover",
        help="print recovered records as JSON lines",
        description=(
            "Print records recovered from older WAL frames, freelist pages, freeblocks, "
            "unallocated space and the rollback journal, one JSON object per line. "
            "FILE-wal and FILE-journal beside FILE are used when present."
        ),
    )
    p.add_argument("file", metavar="FILE", help="the SQLite database")
    p.add_argument("--wal", metavar="FILE", help="its write-ahead log (default: FILE-wal)")
    p.add_argument("--journal", metavar="FILE", help="its rollback journal (default: FILE-journal)")
    p.add_argument("--all", action="store_true", help="print live rows too")


def _check_readable(path: Path, what: str) -> None:
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as exc:
        raise InputError(f"cannot open {what} {path}: {exc.strerror or exc}") from None
    if not path.is_file():
        raise InputError(f"{what} {path} is not a regular file")


def _beside(db: Path, suffix: str, given: str | None, what: str) -> Path | None:
    if given is not None:
        path = Path(given)
        _check_readable(path, what)
        return path
    path = db.with_name(db.name + suffix)
    if path.is_file():
        print(f"vmforensics: using the {what} found beside the database: {path}", file=sys.stderr)
        return path
    return None


def _json_value(value: object) -> object:
    if isinstance(value, bytes):
        return {"hex": value.hex()}
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}
    return value


def record_json(row: RecoveredRow) -> dict:
    return {
        "table": row.table,
        "columns": row.columns,
        "values": [_json_value(v) for v in row.values],
        "rowid": row.rowid,
        "recovered": row.recovered,
        "file": row.file,
        "frame": row.frame,
        "page": row.page,
        "offset": row.offset,
        "confidence": row.confidence,
    }


def run(args: argparse.Namespace) -> int:
    db = Path(args.file)
    _check_readable(db, "database")
    wal = _beside(db, "-wal", args.wal, "WAL")
    journal = _beside(db, "-journal", args.journal, "journal")
    paths = {"db": db, "wal": wal, "journal": journal}
    out = sys.stdout
    for item in recover(db, wal, journal, include_live=args.all):
        if isinstance(item, SqliteProblem):
            line = {
                "type": "error",
                "stage": "recover",
                "path": str(paths.get(item.file) or db),
                "offset": item.offset,
                "message": item.message,
            }
            print(json.dumps(line, ensure_ascii=False), file=sys.stderr)
            continue
        out.write(json.dumps(record_json(item), ensure_ascii=False) + "\n")
    out.flush()
    return EXIT_OK
