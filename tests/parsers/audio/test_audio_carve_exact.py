"""Exact carving per codec: alone, embedded at odd offsets, back to back, truncated, and
with junk after the magic — on samples made here with PyAV and SoX and on corpus files."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
from pathlib import Path

import audio_carve_samples as samples
import pytest

from parsers.audio import carve

GENERATED = sorted(samples.SPECS)
CORPUS = {
    "exoplayer/sample_nb.amr": ("amr", "amr-nb"),
    "exoplayer/sample_wb.amr": ("amr", "amr-wb"),
    "exoplayer/bear.opus": ("ogg", "opus"),
    "exoplayer/sample.wav": ("wav", "pcm"),
    "exoplayer/sample_ima_adpcm.wav": ("wav", "adpcm"),
    "exoplayer/sample_opus.mp4": ("mp4", "opus"),
    "file-type/fixture.amr": ("amr", "amr-nb"),
    "file-type/fixture.qcp": ("qcp", "qcelp"),
    "file-type/fixture.3gp": ("3gp", "amr-nb"),
    "file-type/fixture2.3gp": ("3gp", "amr-nb"),
    "file-type/fixture.m4a": ("mp4", "aac"),
    "file-type/fixture.mp3": ("mp3", "mp3"),
    "file-type/fixture.opus": ("ogg", "opus"),
    "file-type/fixture.wav": ("wav", "pcm"),
    "mimetype/amr.amr": ("amr", "amr-nb"),
    "mimetype/3gp.3gp": ("3gp", "amr-nb"),
    "mimetype/mp3.v2.5.notag.mp3": ("mp3", "mp3"),
    "mutagen/no-tags.3g2": ("3gp", "aac"),
    "tinytag/8khz_5s.opus": ("ogg", "opus"),
    "tinytag/gsm_6_10.wav": ("wav", "gsm"),
    "tinytag/test2.m4a": ("mp4", "aac"),
}


def _sox(tmp: Path, name: str, args: list[str]) -> bytes:
    if shutil.which("sox") is None:
        pytest.skip("sox is not installed")
    out = tmp / name
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", *args, str(out), "synth", "1.5", "sine", "300"],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


SOX = {
    "sox-wav49": (["-e", "gsm-full-rate"], "x.wav", ("wav", "gsm")),
    "sox-amr-nb": ([], "x.amr-nb", ("amr", "amr-nb")),
}
CASES = (
    [f"gen:{g}" for g in GENERATED]
    + [f"corpus:{c}" for c in sorted(CORPUS)]
    + [f"sox:{s}" for s in sorted(SOX)]
)


@pytest.fixture(scope="module")
def soxdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sox")


def load(case: str, soxdir: Path) -> tuple[bytes, str, str]:
    kind, name = case.split(":", 1)
    if kind == "gen":
        spec = samples.SPECS[name]
        return samples.make(name), spec[5], spec[6]
    if kind == "sox":
        args, fname, (container, codec) = SOX[name]
        return _sox(soxdir, name + fname, args), container, codec
    path = samples.corpus_file(name)
    if path is None:
        pytest.skip(f"corpus file {name} is absent (../shared not present)")
    return path.read_bytes(), *CORPUS[name]


def junk(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.mark.parametrize("case", CASES)
def test_alone_exact(case: str, soxdir: Path) -> None:
    data, container, codec = load(case, soxdir)
    hits = carve.carve(data)
    assert len(hits) == 1, hits
    h = hits[0]
    assert (h.offset, h.length, h.sha256) == (0, len(data), sha(data))
    assert (h.container, h.codec) == (container, codec)
    assert h.decodes and not h.truncated
    assert h.duration_s and h.duration_s > 0.05
    again = carve.identify(data)
    assert again is not None and again.length == len(data)


@pytest.mark.parametrize("case", CASES)
def test_embedded_at_odd_offsets(case: str, soxdir: Path) -> None:
    data, container, _codec = load(case, soxdir)
    pre, post = junk(4099, 1), junk(777, 2)
    hits = [h for h in carve.carve(pre + data + post) if h.decodes]
    assert [(h.offset, h.length, h.sha256, h.container) for h in hits] == [
        (len(pre), len(data), sha(data), container)
    ]


@pytest.mark.parametrize("case", CASES)
def test_back_to_back(case: str, soxdir: Path) -> None:
    data, _container, _codec = load(case, soxdir)
    blob = junk(13, 3) + data * 3 + junk(5, 4)
    hits = [h for h in carve.carve(blob) if h.decodes]
    if case == "corpus:mimetype/mp3.v2.5.notag.mp3":
        # No tag and no Xing/Info frame count: nothing separates identical streams, so
        # the frame walk runs through all three (documented limitation).
        assert [(h.offset, h.length) for h in hits] == [(13, 3 * len(data))]
        return
    assert [(h.offset, h.length) for h in hits] == [
        (13 + i * len(data), len(data)) for i in range(3)
    ]
    assert {h.sha256 for h in hits} == {sha(data)}


def _cut(data: bytes, container: str) -> int:
    cut = int(len(data) * 0.6)
    if container == "amr":
        h = carve.identify(data, decode=False)
        assert h is not None
        hdr = 9 if data.startswith(b"#!AMR-WB\n") else 6
        size = (len(data) - hdr) // h.extra["frames"]
        cut = hdr + ((cut - hdr) // size) * size + size // 2  # inside a frame
    return cut


@pytest.mark.parametrize("case", CASES)
def test_truncated(case: str, soxdir: Path) -> None:
    data, container, _codec = load(case, soxdir)
    cut = _cut(data, container)
    part = junk(31, 5) + data[:cut]
    hits = carve.carve(part)
    assert hits, "a truncated object is still found"
    h = hits[0]
    assert (h.offset, h.length, h.truncated) == (31, cut, True)
    assert h.sha256 == sha(data[:cut])


def _header_len(data: bytes, container: str) -> int:
    """The bytes a format's header covers, up to where its audio payload would begin."""
    if container == "amr":
        return data.index(b"\n") + 1
    if container in ("wav", "qcp", "aiff"):
        return 12
    if container == "caf":
        return 8 + 12 + 32  # header and desc chunk
    if container in ("mp4", "3gp"):
        return int.from_bytes(data[:4], "big")  # the ftyp box
    if container == "ogg":
        return 27 + data[26] + sum(data[27 : 27 + data[26]])  # the BOS page
    if container == "flac":
        return 42  # magic and STREAMINFO
    if container == "mp3" and data.startswith(b"ID3"):
        s = data[6:10]
        return 10 + (s[0] << 21 | s[1] << 14 | s[2] << 7 | s[3]) + 4
    return 4


@pytest.mark.parametrize("case", CASES)
def test_junk_after_magic_never_decodes(case: str, soxdir: Path) -> None:
    data, container, _codec = load(case, soxdir)
    keep = _header_len(data, container)
    for seed in range(5):
        blob = data[:keep] + junk(5000, 100 + seed)
        assert not any(h.decodes for h in carve.carve(blob)), seed


def _vocabulary() -> tuple[set, set]:
    path = samples.SHARED / "schema" / "artifacts.schema.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    props = json.loads(path.read_text())["properties"]
    return set(props["container"]["enum"]), set(props["codec"]["enum"])


@pytest.mark.parametrize("case", CASES)
def test_names_are_the_schema_vocabulary(case: str, soxdir: Path) -> None:
    containers, codecs = _vocabulary()
    data, _container, _codec = load(case, soxdir)
    for decode in (True, False):
        for h in carve.carve(data, decode=decode):
            rec = carve.to_record(h, "x")
            assert rec.container in containers and rec.codec in codecs
            json.dumps(rec.extra)  # plain JSON values only
