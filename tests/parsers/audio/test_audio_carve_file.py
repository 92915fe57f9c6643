"""carve_file: mmap windows, hits straddling a window boundary, offsets, bounded memory."""

from __future__ import annotations

import hashlib
import random
import tracemalloc
from pathlib import Path

import audio_carve_samples as samples
import pytest

from parsers.audio import carve


def _layout(tmp_path: Path, names: list[str], gap: int, seed: int = 9) -> tuple[Path, list]:
    rng = random.Random(seed)
    blob = bytearray(rng.randbytes(gap + 3))
    truth = []
    for name in names:
        data = samples.make(name)
        truth.append((len(blob), len(data), hashlib.sha256(data).hexdigest()))
        blob += data + rng.randbytes(gap + rng.randrange(7))
    path = tmp_path / "image.bin"
    path.write_bytes(bytes(blob))
    return path, truth


def test_same_hits_as_carve_in_memory(tmp_path: Path) -> None:
    names = ["amr-nb", "wav-pcm", "opus-ogg", "aac-m4a", "flac", "mp3", "caf", "aiff"]
    path, truth = _layout(tmp_path, names, 1000)
    found = [(h.offset, h.length, h.sha256) for h in carve.carve_file(path) if h.decodes]
    assert found == truth
    assert found == [(h.offset, h.length, h.sha256) for h in carve.carve(path.read_bytes())]


@pytest.mark.parametrize("window", [4096, 5000, 65536, 1 << 20])
def test_hits_straddling_window_boundaries(tmp_path: Path, window: int) -> None:
    # every object here is larger than the smaller windows, so each one straddles
    names = ["wav-pcm", "amr-nb", "flac", "opus-ogg", "aac-3gp", "mp3-8k", "wav-adpcm"]
    path, truth = _layout(tmp_path, names, 2000)
    hits = [h for h in carve.carve_file(path, window=window, overlap=16) if h.decodes]
    assert [(h.offset, h.length, h.sha256) for h in hits] == truth
    assert not any(h.truncated for h in hits)


def test_object_cut_by_end_of_file_is_truncated(tmp_path: Path) -> None:
    data = samples.make("wav-pcm")
    path = tmp_path / "cut.bin"
    path.write_bytes(b"\0" * 5000 + data[:-1000])
    hits = list(carve.carve_file(path, window=4096, overlap=16))
    assert [(h.offset, h.length, h.truncated) for h in hits] == [(5000, len(data) - 1000, True)]


def test_memory_stays_bounded_by_the_window(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    chunk = random.Random(1).randbytes(1 << 20)
    wav = samples.make("wav-pcm")
    with path.open("wb") as f:
        for i in range(40):
            f.write(chunk)
            if i % 10 == 5:
                f.write(wav)
    tracemalloc.start()
    try:
        hits = [h for h in carve.carve_file(path, window=1 << 20) if h.decodes]
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(hits) == 4
    assert peak < 8 << 20, f"peak Python allocation {peak} for a 40 MiB file"


def test_empty_and_tiny_files(tmp_path: Path) -> None:
    for content in (b"", b"R", b"RIFF", b"#!AMR\n"):
        path = tmp_path / "t.bin"
        path.write_bytes(content)
        assert [h.length for h in carve.carve_file(path)] == ([] if len(content) < 6 else [6])


def test_frame_boundary_exactly_at_the_view_end(tmp_path: Path) -> None:
    # AMR has no length field: a view that ends exactly between two frames must not cut it
    data = samples.make("amr-nb")
    size = 13
    assert data[6] == 0x04  # 4.75 kbit/s frames, 13 bytes each
    window, overlap = 4096, 16
    offset = window + overlap - 6 - size * 50
    path = tmp_path / "edge.bin"
    path.write_bytes(b"\0" * offset + data + b"\0" * 100)
    hits = list(carve.carve_file(path, window=window, overlap=overlap))
    assert [(h.offset, h.length, h.decodes) for h in hits] == [(offset, len(data), True)]


def test_on_window_sees_every_byte_once_and_ranges_split(tmp_path: Path) -> None:
    names = ["wav-pcm", "amr-nb", "flac", "opus-ogg", "aac-3gp", "mp3-8k"]
    path, truth = _layout(tmp_path, names, 3000)
    digest = hashlib.sha256()
    hits = list(carve.carve_file(path, window=5000, on_window=digest.update))
    assert digest.hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [(h.offset, h.length, h.sha256) for h in hits if h.decodes] == truth
    # two workers: objects start in their own range, may end past it
    mid = truth[2][0] + 10  # inside the third object
    first = [h for h in carve.carve_file(path, stop=mid) if h.decodes]
    second = [h for h in carve.carve_file(path, start=mid) if h.decodes]
    assert [(h.offset, h.length) for h in first] == [t[:2] for t in truth[:3]]
    assert all(h.offset >= mid for h in second)
    assert [(h.offset, h.length) for h in second if h.offset >= truth[3][0]] == [
        t[:2] for t in truth[3:]
    ]


def test_abandoned_iteration_releases_the_mapping(tmp_path: Path) -> None:
    path, truth = _layout(tmp_path, ["amr-nb", "wav-pcm", "flac"], 100)
    it = carve.carve_file(path, window=4096)
    first = next(it)
    assert first.offset == truth[0][0]
    it.close()  # must not raise BufferError


def test_an_object_larger_than_the_window_is_neither_copied_nor_cut(tmp_path: Path) -> None:
    import struct

    size = 24 << 20
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    header = b"RIFF" + struct.pack("<I", 4 + 24 + 8 + size) + b"WAVE"
    header += b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", size)
    path = tmp_path / "long.bin"
    body = random.Random(3).randbytes(1 << 20)
    digest = hashlib.sha256(header)
    with path.open("wb") as f:
        f.write(b"\0" * 12345 + header)
        for _ in range(size >> 20):
            f.write(body)
            digest.update(body)
    tracemalloc.start()
    try:
        hits = list(carve.carve_file(path, window=1 << 20))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(h.offset, h.length, h.decodes, h.truncated) for h in hits] == [
        (12345, len(header) + size, True, False)
    ]
    assert hits[0].sha256 == digest.hexdigest()
    assert hits[0].duration_s == pytest.approx(size / 32000)
    assert peak < 8 << 20, f"peak Python allocation {peak} for a 24 MiB object"
