"""The hash-chained custody log and the evidence store."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pytest

from chain_of_custody.custody_log import CustodyLog, canonical, read_events, verify_chain
from chain_of_custody.listing import snapshot
from chain_of_custody.store import EvidenceStore, IngestLimitExceeded

GENESIS = hashlib.sha256(b"case header").hexdigest()


def make_log(tmp_path: Path, n: int = 5) -> Path:
    log = CustodyLog(tmp_path / "custody.jsonl", GENESIS)
    for i in range(n):
        log.append(
            "stored",
            actor="ex",
            tool="t",
            time_utc="2026-01-01T00:00:00Z",
            detail={"i": i, "name": "ü"},
            sync=i % 2 == 0,
        )
    return tmp_path / "custody.jsonl"


def test_chain_verifies_and_reopens(tmp_path):
    path = make_log(tmp_path)
    assert verify_chain(path, GENESIS).ok
    again = CustodyLog(path, GENESIS)
    again.append("sealed", actor="ex", tool="t", time_utc="t", detail={})
    events = read_events(path)
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[0]["prev_sha256"] == GENESIS
    line2 = path.read_bytes().split(b"\n")[1]
    assert events[2]["prev_sha256"] == hashlib.sha256(line2).hexdigest()
    assert line2 == canonical(events[1])


@pytest.mark.parametrize("tamper,line", [("edit", 3), ("delete", 2), ("swap", 2), ("genesis", 1)])
def test_first_broken_link_is_named(tmp_path, tamper, line):
    path = make_log(tmp_path)
    lines = path.read_bytes().split(b"\n")[:-1]
    genesis = GENESIS
    if tamper == "edit":
        lines[2] = lines[2].replace(b'"i":2', b'"i":9')
    elif tamper == "delete":
        del lines[1]
    elif tamper == "swap":
        lines[1], lines[2] = lines[2], lines[1]
    else:
        genesis = hashlib.sha256(b"another header").hexdigest()
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = verify_chain(path, genesis)
    assert not report.ok and report.broken_at == (line + 1 if tamper == "edit" else line)
    assert f"line {report.broken_at}" in report.message


def test_store_hashes_in_one_pass_and_is_read_only(tmp_path):
    store = EvidenceStore(tmp_path / "evidence", tmp_path / "tmp")
    data = os.urandom(3 << 20)
    obj = store.ingest(io.BytesIO(data))
    assert obj.sha256 == hashlib.sha256(data).hexdigest()
    assert obj.sha1 == hashlib.sha1(data).hexdigest() and obj.md5 == hashlib.md5(data).hexdigest()
    assert obj.path == tmp_path / "evidence" / obj.sha256[:2] / obj.sha256
    assert obj.path.read_bytes() == data and (obj.path.stat().st_mode & 0o777) == 0o400
    assert obj.new and not store.ingest(io.BytesIO(data)).new
    assert list((tmp_path / "tmp").iterdir()) == []


def test_store_limit_leaves_nothing_behind(tmp_path):
    store = EvidenceStore(tmp_path / "evidence", tmp_path / "tmp")
    with pytest.raises(IngestLimitExceeded):
        store.ingest(io.BytesIO(b"x" * 5000), limit=1000)
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not (tmp_path / "evidence").exists()


def test_listing_sees_changes(tmp_path):
    (tmp_path / "a").write_text("1")
    before = snapshot(tmp_path)
    assert before.diff(snapshot(tmp_path)) == []
    (tmp_path / "a").write_text("22")
    (tmp_path / "b").write_text("new")
    diff = before.diff(snapshot(tmp_path))
    assert diff == ["added: b", "changed: a"]
    assert json.dumps(before.rows)
