"""A carver process that dies (a decoder crashing on hostile audio, the OOM killer) costs
the file or span it was carving, recorded as a failure, not the whole run."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

from parsers.audio import carve as audio_carve
from vmforensics.pipeline import carving, raw

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "testdata" / "images"))
from builders import audio

REAL = audio_carve.carve_file


def _dies_on(marker: str):
    def carve_file(path, **kw):  # what a segfaulting decoder does to its process
        if marker in os.fspath(path) and kw.get("start", 0) == (1 << 16 if marker == "disk" else 0):
            os._exit(139)
        return REAL(path, **kw)

    return carve_file


@pytest.fixture(scope="module")
def amr() -> bytes:
    return audio.amr_nb(1.0, 3)


@pytest.mark.timeout(120)
def test_stored_files_carving_survives_a_dead_worker(tmp_path, amr, monkeypatch):
    paths = []
    for i in range(10):
        p = tmp_path / (f"crash-{i}.bin" if i == 3 else f"f{i}.amr")
        p.write_bytes(amr)
        paths.append(str(p))
    monkeypatch.setattr(audio_carve, "carve_file", _dies_on("crash-"))
    out = list(carving.carve_paths(paths, workers=2))
    assert [o[0] for o in out] == paths  # every file answered, in order
    by = {o[0]: o for o in out}
    assert by[paths[3]][1] == [] and "died" in (by[paths[3]][2] or "")
    for p in paths[:3] + paths[4:]:
        assert by[p][2] is None and [h.offset for h in by[p][1]] == [0], by[p]


@pytest.mark.timeout(120)
def test_raw_image_survives_a_dead_worker(tmp_path, amr, monkeypatch):
    monkeypatch.setattr(raw, "SPAN", 1 << 16)
    img = tmp_path / "disk.img"
    data = bytearray(hashlib.sha256(b"x").digest() * (4 * (1 << 16) // 32))
    for off in (100, (1 << 16) + 100, 3 * (1 << 16) + 100):
        data[off : off + len(amr)] = amr
    img.write_bytes(bytes(data))
    monkeypatch.setattr(audio_carve, "carve_file", _dies_on("disk"))
    result = raw.carve_image(str(img), ("sha256",), workers=2)
    assert result.digests["sha256"] == hashlib.sha256(data).hexdigest()
    assert [h.offset for h in result.hits] == [100, 3 * (1 << 16) + 100]
    assert [(s, e) for s, e, _ in result.failures] == [(1 << 16, 2 << 16)]
    assert "died" in result.failures[0][2]
