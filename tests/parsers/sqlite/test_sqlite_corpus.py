"""Recall of deleted records on the SQLite Forensic Corpus (ground truth in XML).

A ground-truth row counts as recovered when a recovered record carries exactly its
values (floats to 5 decimals, as the XML writes them). A row counts as *intact* when
its record body (the values as SQLite serialises them) is still present byte for byte
in the file: those are the rows a perfect tool could bring back. The figures are
asserted exactly so that a regression fails; the table is printed with ``-s``.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest
import sqlite_builders  # noqa: F401  (puts the repo first on sys.path)

from parsers.sqlite.pagefile import PagedFile
from parsers.sqlite.recover import RecoveredRow, SqliteProblem, live_rows, recover
from parsers.sqlite.wal import COMMITTED, Wal

pytestmark = pytest.mark.timeout(120)

# category: (deleted rows, recovered, intact, intact recovered, false positives)
EXPECTED = {
    "0A": (100, 100, 100, 100, 0),
    "0B": (20, 8, 8, 8, 0),
    "0C": (101, 101, 101, 101, 0),
    "0D": (45, 19, 19, 19, 0),
    "0E": (12, 4, 3, 3, 0),
    "17": (195, 0, 0, 0, 0),
    "18": (967, 0, 0, 0, 0),
}
NAMES = {
    "0A": "deleted tables",
    "0B": "overwritten tables",
    "0C": "deleted records",
    "0D": "overwritten records",
    "0E": "deleted overflow pages",
    "17": "manipulated freeblocks",
    "18": "manipulated freelist trunks",
}


def _ground_truth(xml_path: Path):
    root = ET.parse(xml_path).getroot()
    deleted, alive = [], []
    for el in root.findall("element"):
        table_dropped = el.findtext("meta/deleted") == "True"
        types = [c.findtext("columnTypeName") for c in el.findall("sql/columnDefinition")]
        for row in el.findall("entries/row"):
            values = tuple(c.findtext("content") or "" for c in row.findall("column"))
            target = deleted if row.get("deleted") == "1" or table_dropped else alive
            target.append((values, types))
    return deleted, alive


def _norm_truth(text: str) -> str:
    if "." in text:
        try:
            return f"{float(text):.5f}"
        except ValueError:
            return text
    return text


def _norm_ours(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.5f}"
    return str(value)


def _body(values: tuple[str, ...], types: list[str]) -> bytes:
    """The record body SQLite would have written for these values."""
    out = b""
    for text, kind in zip(values, types, strict=False):
        if text == "":
            continue
        if kind == "INTEGER" or (kind == "REAL" and "." not in text):
            number = int(text)
            if number in (0, 1):
                continue
            size = next(
                n for n in (1, 2, 3, 4, 6, 8) if -(1 << (8 * n - 1)) <= number < 1 << (8 * n - 1)
            )
            out += number.to_bytes(size, "big", signed=True)
        elif kind == "REAL":
            out += struct.pack(">d", float(text))
        else:
            out += text.encode()
    return out


def _evaluate(corpus: Path):
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    problems: dict[str, int] = defaultdict(int)
    for db in sorted((corpus / "sqlite-forensic").glob("v*/*/*.db")):
        category = db.parent.name
        xml_path = db.with_name(db.name.replace("_antifor", "").replace(".db", ".xml"))
        deleted, alive = _ground_truth(xml_path)
        items = list(recover(db))
        problems[category] += sum(isinstance(i, SqliteProblem) for i in items)
        ours = [
            tuple(_norm_ours(v) for v in i.values)
            for i in items
            if isinstance(i, RecoveredRow) and i.table != "sqlite_master"
        ]
        truth_deleted = [tuple(_norm_truth(v) for v in values) for values, _ in deleted]
        truth_alive = {tuple(_norm_truth(v) for v in values) for values, _ in alive}
        raw = db.read_bytes()
        got = set(ours)
        t = totals[category]
        for (values, types), norm in zip(deleted, truth_deleted, strict=True):
            intact = _body(values, types) in raw
            t[0] += 1
            t[1] += norm in got
            t[2] += intact
            t[3] += intact and norm in got
        t[4] += sum(1 for row in ours if row not in set(truth_deleted) and row not in truth_alive)
    return totals, problems


def test_recall_per_category_on_the_forensic_corpus(corpus: Path) -> None:
    if not (corpus / "sqlite-forensic").is_dir():
        pytest.skip("the SQLite forensic corpus is absent")
    totals, problems = _evaluate(corpus)
    lines = [
        "| category | deleted rows | recovered | recall | bytes intact | intact recovered"
        " | false positives |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for cat in sorted(totals):
        d, r, i, ir, fp = totals[cat]
        recall = f"{100 * r / d:.1f} %" if d else "-"
        lines.append(f"| {cat} {NAMES[cat]} | {d} | {r} | {recall} | {i} | {ir} | {fp} |")
    print("\n" + "\n".join(lines))
    assert {cat: tuple(v) for cat, v in totals.items()} == EXPECTED
    # every deleted record whose bytes survive is recovered
    assert all(v[2] == v[3] for v in totals.values())
    # the clean categories raise no problems; the manipulated ones are reported, not fatal
    assert all(problems[c] == 0 for c in ("0A", "0B", "0C", "0D", "0E"))
    assert problems["17"] > 0 and problems["18"] > 0


def test_real_wal_every_frame_and_the_committed_state(corpus: Path) -> None:
    folder = corpus / "sqlite-wal-andriller"
    if not folder.is_dir():
        pytest.skip("sqlite-wal-andriller is absent")
    with PagedFile(folder / "locksettings.db-wal", "wal") as f:
        wal = Wal(f)
        frames = list(wal.frames())
        assert len(frames) == 71 and wal.page_size == 4096
        assert sum(1 for fr in frames if fr.commit_size) == 35
        assert all(fr.state == COMMITTED for fr in frames)
        per_page = defaultdict(int)
        for fr in frames:
            per_page[fr.page_number] += 1
        assert per_page[4] == 32 and per_page[5] == 32 and per_page[3] == 3
    live = [
        r
        for r in live_rows(folder / "locksettings.db", folder / "locksettings.db-wal")
        if isinstance(r, RecoveredRow)
    ]
    settings = {r.values[1]: r.values[3] for r in live if r.table == "locksettings"}
    assert len(settings) == 12
    assert settings["lockscreen.password_type"] == "65536"
    assert settings["lockscreen.password_salt"] == "403022939438383098"
    found = [
        r
        for r in recover(folder / "locksettings.db", folder / "locksettings.db-wal")
        if isinstance(r, RecoveredRow)
    ]
    # older values survive only in superseded frames
    old = {(r.values[1], r.values[3]) for r in found if r.table == "locksettings"}
    assert ("lockscreen.password_type", "0") in old
    assert all(r.recovered == "wal" and r.file == "wal" and r.frame for r in found)
    live_keys = {(r.table, tuple(r.values)) for r in live}
    assert not any((r.table, tuple(r.values)) in live_keys for r in found)


def test_empty_wal_beside_calllog_is_harmless(corpus: Path) -> None:
    folder = corpus / "calllog-andriller"
    if not folder.is_dir():
        pytest.skip("calllog-andriller is absent")
    items = list(recover(folder / "calllog.db", folder / "calllog.db-wal", include_live=True))
    assert not any(isinstance(i, SqliteProblem) for i in items)
    calls = [i for i in items if isinstance(i, RecoveredRow) and i.table == "calls"]
    assert len(calls) == 1 and calls[0].recovered == "live"
    assert "+441234567890" in calls[0].values
    status = [i for i in items if isinstance(i, RecoveredRow) and i.table == "voicemail_status"]
    assert len(status) == 1 and "com.google.android.dialer" in status[0].values
