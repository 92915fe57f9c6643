"""A raw image is carved in place, hashed in the same pass, never copied (issue 4)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest
from vmf_testutil import read_lines

from vmforensics.pipeline import raw

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "testdata" / "images"))
from builders import audio


@pytest.fixture(scope="module")
def amr() -> bytes:
    return audio.amr_nb(2.0, 7)


def make_image(path: Path, amr: bytes, offsets: list[int], size: int) -> None:
    data = bytearray(hashlib.sha256(b"seed").digest() * (size // 32 + 1))[:size]
    for off in offsets:
        data[off : off + len(amr)] = amr
    path.write_bytes(bytes(data))


def test_spans_straddled_exactly_and_hash_in_same_pass(tmp_path, amr, monkeypatch):
    monkeypatch.setattr(raw, "SPAN", 1 << 16)
    img = tmp_path / "disk.img"
    offsets = [100, (1 << 16) - 700, 3 * (1 << 16) + 13]  # the second one straddles a span
    make_image(img, amr, offsets, 5 * (1 << 16))
    result = raw.carve_image(str(img), ("sha256", "md5"), workers=2)
    assert [(h.offset, h.length) for h in result.hits] == [(o, len(amr)) for o in offsets]
    assert all(h.sha256 == hashlib.sha256(amr).hexdigest() and h.decodes for h in result.hits)
    data = img.read_bytes()
    assert result.digests == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "md5": hashlib.md5(data).hexdigest(),
    }


def test_cli_raw_image_not_copied(cli, tmp_path, amr, schema_validator):
    img = tmp_path / "memory.dump"
    make_image(img, amr, [4097, 200_003], 300_000)
    case = tmp_path / "case"
    res = cli(
        "scan", str(img), "--case", str(case), "--quiet", "--legacy-hashes", "--verify-source"
    )
    assert res.code == 0, res
    lines = read_lines(case / "artifacts.jsonl")
    for line in lines:
        assert not list(schema_validator.iter_errors(line))
    audio_lines = [x for x in lines if x["type"] == "audio"]
    assert [(a["evidence_path"], a["offset"], a["length"]) for a in audio_lines] == [
        ("memory.dump", 4097, len(amr)),
        ("memory.dump", 200_003, len(amr)),
    ]
    assert {(a["exposure"], a["severity"]) for a in audio_lines} == {("unknown", "high")}
    src = json.loads((case / "case.json").read_text())["sources"][0]
    data = img.read_bytes()
    assert src["kind"] == "raw-image"
    assert src["hashes_before"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert src["hashes_before"]["md5"] == hashlib.md5(data).hexdigest()
    assert src["hashes_after"] == src["hashes_before"]
    stored = {p.name for p in (case / "evidence").rglob("*") if p.is_file()}
    assert hashlib.sha256(data).hexdigest() not in stored  # the image itself is not copied
    assert hashlib.sha256(amr).hexdigest() in stored  # what was carved out of it is
    entry = read_lines(case / "sources" / "S1" / "entries.jsonl")
    assert entry[0]["stored"] is False and entry[0]["evidence_path"] == "memory.dump"
    assert os.stat(img).st_size == len(data)


def test_rescan_and_second_source_still_record_carved_bytes(cli, tmp_path, amr):
    """derived.jsonl names what a bag must carry beside the entries: a re-scan (bytes
    already in the store) and another source carving the same bytes must list them too."""
    img = tmp_path / "memory.dump"
    make_image(img, amr, [4097], 100_000)
    twin = tmp_path / "other.dump"
    twin.write_bytes(img.read_bytes())
    case = tmp_path / "case"
    assert cli("scan", str(img), "--case", str(case), "--quiet").code == 0
    first = (case / "sources" / "S1" / "derived.jsonl").read_bytes()
    rows = [json.loads(x) for x in first.splitlines()]
    assert [(r["sha256"], r["offset"]) for r in rows] == [(hashlib.sha256(amr).hexdigest(), 4097)]
    assert cli("scan", str(img), str(twin), "--case", str(case), "--quiet").code == 0
    assert (case / "sources" / "S1" / "derived.jsonl").read_bytes() == first
    s2 = read_lines(case / "sources" / "S2" / "derived.jsonl")
    assert [(r["sha256"], r["from_evidence_path"]) for r in s2] == [
        (hashlib.sha256(amr).hexdigest(), "other.dump")
    ]
