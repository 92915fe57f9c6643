"""The Findings screen's data side: hostile artifacts lines, filters, sorting, the detail
pane's links, the hex view, and WAV export refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vmforensics.case import Case
from vmforensics.pipeline import ScanOptions, scan
from vmforensics.progress import Progress
from vmforensics.tui import findings_data as fd

IMAGES = Path(__file__).resolve().parents[3] / "testdata" / "images"


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> Case:
    root = tmp_path_factory.mktemp("fd") / "case"
    c = Case.open_or_create(root, case_id="X", examiner="Ann")
    scan(c, [str(IMAGES / "ios-plain")], ScanOptions(), Progress())
    return c


def test_broken_lines_become_error_rows(tmp_path):
    c = Case.open_or_create(tmp_path / "c", case_id="X", examiner="Ann")
    c.artifacts.write_bytes(b'{"type": "audio", "id": "a"}\nnot json\n[1, 2]\n\n')
    rows = fd.read_artifacts(c)
    assert [r["type"] for r in rows] == ["audio", "error", "error"]
    assert rows[1]["message"] == "line 2 is not a JSON object"


def test_filters_sorting_links(case):
    rows = fd.read_artifacts(case)
    audio = [r for r in rows if fd.matches(r, "audio", None, "")]
    assert audio and all(r["type"] == "audio" for r in audio)
    assert [r for r in rows if fd.matches(r, None, "info", "")] == [
        r for r in rows if r.get("severity") == "info"
    ]
    alex = [r for r in rows if fd.matches(r, None, None, "ALEX")]
    assert alex and all("alex" in json.dumps(r).lower() for r in alex)
    ordered = sorted(rows, key=fd.SORT_KEYS["type"])
    assert [r["type"] for r in ordered] == sorted(r["type"] for r in rows)
    linked = fd.linked_voicemail(rows, audio[0]["id"])
    assert linked and audio[0]["id"] in linked[0]["audio_ids"]
    labels = dict(fd.detail_lines(case, rows, audio[0]))
    assert labels["sha256"] == audio[0]["sha256"] and labels["transcript"]


def test_hex_view_is_bounded(tmp_path):
    blob = tmp_path / "b"
    blob.write_bytes(b"#!AMR\n" + bytes(range(256)) * 40)
    view = fd.hex_view(blob)
    assert view.splitlines()[0].startswith("00000000  23 21 41 4d 52 0a")
    assert len(view.splitlines()) == fd.HEX_BYTES // 16


def test_export_refusals(case, tmp_path):
    rows = fd.read_artifacts(case)
    audio = next(r for r in rows if r["type"] == "audio")
    voicemail = next(r for r in rows if r["type"] == "voicemail")
    with pytest.raises(fd.ExportError, match="audio row"):
        fd.export_wav(case, voicemail, tmp_path / "a.wav")
    with pytest.raises(fd.ExportError, match="still encrypted"):
        fd.export_wav(case, {**audio, "protection": "encrypted"}, tmp_path / "a.wav")
    with pytest.raises(fd.ExportError, match="does not exist"):
        fd.export_wav(case, audio, tmp_path / "nowhere" / "a.wav")
    (tmp_path / "taken.wav").write_bytes(b"x")
    with pytest.raises(fd.ExportError, match="already exists"):
        fd.export_wav(case, audio, tmp_path / "taken.wav")
    assert (tmp_path / "taken.wav").read_bytes() == b"x"
    with pytest.raises(fd.ExportError, match="not in the evidence store"):
        fd.export_wav(case, {**audio, "sha256": "0" * 64}, tmp_path / "b.wav")
