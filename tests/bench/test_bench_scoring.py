"""The benchmark's ground-truth scorer (bench/scoring.py) on a small synthetic image.

No timing: this checks that the scoring math (recall, byte-exact, over-long, truncated,
contained, false positives) is right, so the benchmark's table can be trusted.
"""

from __future__ import annotations

import hashlib
import itertools
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

imagegen = pytest.importorskip("imagegen")
from scoring import Recovery, heads, score  # noqa: E402


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("bench") / "small.img"
    truths = imagegen.build(
        path, size=4 << 20, files=6, seed=9, max_seconds=4.0, log=lambda *_: None
    )
    return path, truths


def _read(path: Path):
    def read(offset: int, n: int) -> bytes:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(n)

    return read


def _cut(path: Path, tmp: Path, name: str, offset: int, length: int) -> Recovery:
    data = _read(path)(offset, length)
    out = tmp / name
    out.write_bytes(data)
    return Recovery(offset, len(data), hashlib.sha256(data).hexdigest(), out)


def test_ground_truth_matches_the_image(image) -> None:
    path, truths = image
    doc, loaded = imagegen.load_truth(path)
    assert loaded == truths and doc["size"] == path.stat().st_size == 4 << 20
    assert {t.aligned for t in truths} == {True, False}
    for t in truths:
        assert (t.offset % 512 == 0) == t.aligned
        assert hashlib.sha256(_read(path)(t.offset, t.length)).hexdigest() == t.sha256
    spans = sorted((t.offset, t.offset + t.length) for t in truths)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), "embedded files overlap"


def test_scoring_classifies_each_kind_of_recovery(image, tmp_path: Path) -> None:
    path, truths = image
    t0, t1, t2, t3, t4, _t5 = truths
    head_map = heads(truths, _read(path))
    assert len(head_map) == len(truths)  # every file has a unique head
    recs = [
        _cut(path, tmp_path, "exact", t0.offset, t0.length),
        _cut(path, tmp_path, "dup", t0.offset, t0.length + 10),  # a second, worse hit
        _cut(path, tmp_path, "long", t1.offset, t1.length + 512),
        _cut(path, tmp_path, "short", t2.offset, t2.length - 100),
        # starts early, no offset given: found by its content, not exact
        _cut(path, tmp_path, "early", t3.offset - 700, t3.length + 700),
        # starts right, no offset given: matched by its head at position 0
        _cut(path, tmp_path, "nooffset", t4.offset, t4.length),
        _cut(path, tmp_path, "junk", t4.offset + t4.length + 1000, 3000),
    ]
    recs[4].offset = None
    recs[5].offset = None
    recs.append(Recovery(12345, 10, None, None, decodes=True))  # reported, no file, matches none
    s = score(truths, recs, head_map, count_decoding=True)
    assert s.recoveries == 8
    assert s.found == 5 and s.missed == [5]
    assert s.exact == 2  # t0 (dup is ranked below) and t4 (head at 0)
    assert s.outcomes["over-long"] == 1 and s.outcomes["truncated"] == 1
    assert s.outcomes["contained"] == 1
    assert s.duplicates == 1
    assert s.false_positives == 2 and s.false_positives_decoding == 1
    assert dict(s.not_exact) == {1: "over-long", 2: "truncated", 3: "contained"}
    fmt = s.by_format[t0.format]
    assert fmt["files"] == 1 and fmt["found"] == 1 and fmt["exact"] == 1


def test_scoring_nothing_found(image) -> None:
    _, truths = image
    s = score(truths, [])
    assert s.found == 0 and s.false_positives == 0 and len(s.missed) == len(truths)
    assert s.false_positives_decoding is None  # only counted when asked
