"""Hostile input: random and mutated bytes never raise and never yield a false decode."""

from __future__ import annotations

import base64
import tempfile
import zlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prot_helpers import audio_records, run, sample

from parsers.protection import encodings, keyhunt, prefix, xor
from parsers.protection.values import Value

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.binary(max_size=6000))
def test_scheme_functions_never_raise(data):
    list(encodings.decodings(data))
    list(encodings.text_decodings(data))
    got = xor.recover(data)
    assert got is None or got.hit.decodes
    got_p = prefix.recover(data)
    assert got_p is None or got_p[1].decodes
    keyhunt.keys_of(Value("p", "l", "n", "name", data))


@FAST
@given(st.text(max_size=300))
def test_key_readings_of_any_text(text):
    for key in keyhunt.keys_of(Value("p", "l", "n", "k", text)):
        assert len(key.material) in keyhunt.KEY_SIZES
        assert repr(key.material) not in repr(key)


def _mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    b = bytearray(data)
    for pos, val in edits:
        b[pos % len(b)] = val
    return bytes(b)


STORED = [
    sample("amr"),
    zlib.compress(sample("wav")),
    base64.b64encode(sample("opus")),
    xor.xor_with(sample("m4a"), b"\x10\x20\x30\x40"),
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(range(len(STORED))),
    st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=12),
    st.binary(max_size=200),
)
def test_analyse_on_mutated_files_never_raises(which, edits, tail):
    stored = _mutate(STORED[which], edits) + tail
    with tempfile.TemporaryDirectory() as tmp:
        records = run(Path(tmp), {"data/data/com.example.vvm/files/x": stored, "a/r.json": tail})
    for rec in audio_records(records):
        assert rec.size == len(rec.data) if rec.data is not None else rec.size <= len(stored)
        assert 0 <= (rec.offset or 0) <= len(stored)


def _db_bytes() -> bytes:
    import sqlite3

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.db"
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b BLOB)")
        conn.execute(
            "INSERT INTO t VALUES (1, ?, ?)", (base64.b64encode(sample("amr")).decode(), b"k" * 16)
        )
        conn.commit()
        conn.close()
        return path.read_bytes()


DB = _db_bytes()
HEADS = [b"", b"<?xml version='1.0'?><map>", b"bplist00", b"{", b"[", b"SQLite format 3\x00"]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(HEADS),
    st.binary(max_size=3000),
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=20),
)
def test_hostile_structured_files(head, body, edits):
    files = {
        "a/p.xml": head + body,
        "a/s.plist": head + body,
        "a/d.json": head + body,
        "a/c.conf": body,
        "a/db.sqlite": _mutate(DB, edits),
    }
    with tempfile.TemporaryDirectory() as tmp:
        records = run(Path(tmp), files)
    failures = [r for r in records if "check failed" in getattr(r, "message", "")]
    assert failures == []
