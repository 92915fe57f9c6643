"""Carved audio is copied into the store in constant memory: a call recording of
hundreds of MiB inside a raw image must not be read into one bytes object."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from pathlib import Path

from parsers.records import AudioRecord
from vmforensics.case import Case
from vmforensics.context import ScanContext
from vmforensics.pipeline.analyse import _keep_audio_bytes

SIZE = 160 << 20
OFFSET = 4097


def test_large_carved_slice_is_stored_streaming(tmp_path: Path) -> None:
    img = tmp_path / "disk.img"
    with open(img, "wb") as f:  # sparse: the slice is zeros apart from a marker
        f.truncate(OFFSET + SIZE + 1000)
        f.seek(OFFSET)
        f.write(b"RIFF")
    h = hashlib.sha256(b"RIFF")
    zeros = bytes(1 << 20)
    left = SIZE - 4
    while left:
        n = min(left, len(zeros))
        h.update(zeros[:n])
        left -= n
    rec = AudioRecord(
        "disk.img", OFFSET, SIZE, "wav", "pcm_s16le", h.hexdigest(), SIZE, True, False, 1.0
    )
    case = Case.open_or_create(tmp_path / "case", case_id="c", examiner="e")
    ctx = ScanContext({}, tmp_path / "parse", "raw-image")
    derived = io.StringIO()
    tracemalloc.start()
    try:
        _keep_audio_bytes(case, rec, ctx, {"id": "audio-x"}, derived, {"disk.img": img}, set())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    stored = case.store.path_for(rec.sha256)
    assert stored.is_file() and stored.stat().st_size == SIZE
    assert '"artifact_id": "audio-x"' in derived.getvalue()
    assert peak < 32 << 20, f"peak Python allocations {peak >> 20} MiB for a {SIZE >> 20} MiB slice"
