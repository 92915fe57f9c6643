"""Encoded audio (base64, hex, zlib, gzip, raw deflate, nested) in files and values."""

from __future__ import annotations

import base64
import gzip
import json
import plistlib
import sqlite3
import tracemalloc
import zlib
from pathlib import Path

import pytest
from prot_helpers import audio_records, run, sample, sha

from parsers.protection import encodings
from parsers.records import ProblemRecord


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def sqlite_bytes(tmp_path: Path, rows: list[tuple]) -> bytes:
    path = tmp_path / "build.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, body TEXT, audio BLOB)")
    conn.executemany("INSERT INTO messages (id, body, audio) VALUES (?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return path.read_bytes()


FILE_FORMS = {
    "base64-lines": ("amr", lambda a: base64.encodebytes(a), "base64"),
    "base64-one-line": ("mp3", lambda a: base64.b64encode(a), "base64"),
    "base64url-nopad": ("opus", lambda a: base64.urlsafe_b64encode(a).rstrip(b"="), "base64"),
    "data-uri": ("amr", lambda a: b"data:audio/amr;base64," + base64.b64encode(a), "base64"),
    "hex": ("wav", lambda a: a.hex().encode(), "hex"),
    "hex-upper-lines": (
        "m4a",
        lambda a: b"\n".join(
            a.hex().upper().encode()[i : i + 64] for i in range(0, 2 * len(a), 64)
        ),
        "hex",
    ),
    "zlib": ("wav", zlib.compress, "zlib"),
    "gzip": ("opus", lambda a: gzip.compress(a, mtime=0), "gzip"),
    "deflate": ("m4a", deflate, "deflate"),
    "base64+zlib": ("amr", lambda a: base64.b64encode(zlib.compress(a)), "base64+zlib"),
    "base64+gzip": ("mp3", lambda a: base64.b64encode(gzip.compress(a, mtime=0)), "base64+gzip"),
    "hex+deflate": ("amr", lambda a: deflate(a).hex().encode(), "hex+deflate"),
}


@pytest.mark.parametrize("form", sorted(FILE_FORMS))
def test_encoded_file_round_trips(tmp_path, form):
    kind, encode, method = FILE_FORMS[form]
    original = sample(kind)
    stored = encode(original)
    recs = audio_records(run(tmp_path, {"sdcard/cache/blob.dat": stored}))
    assert len(recs) == 1, recs
    rec = recs[0]
    assert (rec.protection, rec.method, rec.key_path) == ("encoded", method, None)
    assert rec.decodes and not rec.truncated
    assert rec.sha256 == sha(original) and rec.size == len(original)
    assert rec.data == original
    assert (rec.offset, rec.length) == (0, len(stored))


def test_base64_in_json_xml_and_plist(tmp_path):
    amr, opus, mp3 = sample("amr"), sample("opus"), sample("mp3")
    doc = {"items": [{"id": 1, "voicemail": {"audio": base64.b64encode(amr).decode()}}]}
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n<map>\n'
        f'  <string name="last_message">{base64.b64encode(opus).decode()}</string>\n'
        f'  <entry payload="{mp3.hex()}"/>\n</map>\n'
    ).encode()
    plist = plistlib.dumps({"msg": {"blob": zlib.compress(amr)}}, fmt=plistlib.FMT_BINARY)
    recs = run(
        tmp_path,
        {"a/api.json": json.dumps(doc).encode(), "a/prefs.xml": xml, "a/x.plist": plist},
    )
    got = {(r.path, r.locator): r for r in audio_records(recs)}
    j = got[("a/api.json", "json:$.items[0].voicemail.audio")]
    assert (j.method, j.sha256, j.offset) == ("base64", sha(amr), None)
    x = next(r for (p, loc), r in got.items() if p == "a/prefs.xml" and "last_message" in loc)
    assert (x.method, x.sha256) == ("base64", sha(opus))
    a = next(r for (p, loc), r in got.items() if p == "a/prefs.xml" and loc.endswith("/@payload"))
    assert (a.method, a.sha256) == ("hex", sha(mp3))
    p = got[("a/x.plist", "plist:$.msg.blob")]
    assert (p.method, p.sha256) == ("zlib", sha(amr))
    assert all(r.decodes and r.protection == "encoded" for r in got.values())


def test_sqlite_text_and_blob_cells(tmp_path):
    amr, wav, m4a = sample("amr"), sample("wav"), sample("m4a", seconds=4.0)
    db = sqlite_bytes(
        tmp_path,
        [
            (1, base64.b64encode(amr).decode(), None),
            (2, "just a note", zlib.compress(wav)),
            (7, None, m4a),  # plain audio BLOB spanning overflow pages
        ],
    )
    recs = audio_records(run(tmp_path, {"data/data/com.example.pbx/databases/vm.db": db}))
    got = {r.locator: r for r in recs}
    t = got["sqlite:table=messages,rowid=1,column=body"]
    assert (t.protection, t.method, t.sha256, t.offset) == ("encoded", "base64", sha(amr), None)
    b = got["sqlite:table=messages,rowid=2,column=audio"]
    assert (b.protection, b.method, b.sha256) == ("encoded", "zlib", sha(wav))
    plain = got["sqlite:table=messages,rowid=7,column=audio"]
    assert (plain.protection, plain.method, plain.sha256) == ("none", None, sha(m4a))
    assert plain.data == m4a and all(r.decodes for r in recs)


def test_text_that_is_not_audio_is_left_alone(tmp_path):
    text = base64.b64encode(b"hello world, this is not audio at all " * 50)
    recs = run(tmp_path, {"a/notes.txt": text, "a/z.bin": zlib.compress(b"x" * 10000)})
    assert audio_records(recs) == []


def test_compression_bomb_is_bounded(tmp_path):
    # an audio head followed by 256 MiB of zeros: expands past the 64 MiB bound
    c = zlib.compressobj(9)
    parts = [c.compress(sample("wav")[:44])]
    chunk = bytes(1 << 20)
    for _ in range(256):
        parts.append(c.compress(chunk))
    parts.append(c.flush())
    bomb = b"".join(parts)
    assert len(bomb) < (1 << 20)
    tracemalloc.start()
    try:
        recs = run(tmp_path, {"a/bomb.z": bomb})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < encodings.MAX_OUTPUT + (16 << 20)
    assert audio_records(recs) == []
    problems = [r for r in recs if isinstance(r, ProblemRecord)]
    assert problems and "not expanded" in problems[0].message
    assert problems[0].path == "a/bomb.z"


def test_carver_explained_file_is_skipped(tmp_path):
    recs = run(tmp_path, {"a/plain.amr": sample("amr")})
    assert recs == []
