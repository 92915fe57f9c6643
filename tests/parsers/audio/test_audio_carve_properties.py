"""Hostile input: carving never raises, never reports a range outside its input, ends."""

from __future__ import annotations

import audio_carve_samples as samples
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers.audio import aiff, amr, caf, carve, flac, gsm, mp3, mp4, ogg, riff

SEEDS = ["amr-nb", "aac-m4a", "opus-ogg", "mp3-8k", "flac", "wav-mulaw", "aiff", "caf"]
PROBES = [amr.probe, riff.probe, mp3.probe, mp4.probe, ogg.probe, flac.probe, caf.probe]
PROBES += [aiff.probe, gsm.probe]
MAGICS = [b"#!AMR\n", b"#!AMR-WB\n", b"#!AMR_MC1.0\n", b"RIFF", b"RF64", b"ID3", b"ftyp"]
MAGICS += [b"OggS", b"fLaC", b"caff", b"FORM", b"\xff\xe3", b"\xff\xfb"]


def check_hits(hits: list[carve.Hit], n: int, base: int = 0) -> None:
    end = base
    for h in hits:
        assert base <= h.offset and h.length >= 1
        assert h.offset + h.length <= base + n, "a range past the input"
        assert h.offset >= end, "hits overlap"
        end = h.offset + h.length


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(samples.make(draw(st.sampled_from(SEEDS)), 0.5))
    for _ in range(draw(st.integers(0, 8))):
        op = draw(st.sampled_from(["flip", "cut", "splice", "zero", "dup"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[i : i + draw(st.integers(1, 4096))]
        elif op == "splice":
            data[i:i] = draw(st.binary(max_size=64))
        elif op == "zero":
            data[i : i + 4] = b"\xff\xff\xff\xff" if draw(st.booleans()) else bytes(4)
        else:
            data[i:i] = data[max(0, i - 200) : i]
    return draw(st.binary(max_size=64)) + bytes(data)


@st.composite
def magic_soup(draw: st.DrawFn) -> bytes:
    parts = draw(st.lists(st.one_of(st.sampled_from(MAGICS), st.binary(max_size=40)), max_size=30))
    return b"".join(parts)


@pytest.mark.timeout(120)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_samples(data: bytes) -> None:
    check_hits(carve.carve(data, decode=False), len(data))
    mv = memoryview(data)
    for pos in range(0, len(data), max(1, len(data) // 64)):
        for probe in PROBES:
            pr = probe(mv, pos)  # probes themselves must not raise
            if pr is not None:
                assert 0 <= pr.length <= len(data) - pos


@pytest.mark.timeout(120)
@settings(max_examples=40, deadline=None)
@given(mutated())
def test_mutated_samples_with_decoding(data: bytes) -> None:
    check_hits(carve.carve(data), len(data))


@pytest.mark.timeout(120)
@settings(max_examples=300, deadline=None)
@given(magic_soup(), st.integers(0, 1 << 40))
def test_magic_soup(data: bytes, base: int) -> None:
    hits = carve.carve(data, base=base)
    check_hits(hits, len(data), base)
    mv = memoryview(data)
    for pos in range(len(data)):
        for probe in PROBES:
            pr = probe(mv, pos)
            if pr is not None:
                assert 0 <= pr.length <= len(data) - pos
    check_hits(carve.headerless_amr(data, min_frames=2, decode=False), len(data))
    check_hits(carve.raw_gsm(data, min_frames=1, decode=False), len(data))


@pytest.mark.timeout(120)
@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=0, max_size=20000))
def test_random_bytes(data: bytes) -> None:
    check_hits(carve.carve(data), len(data))
    assert carve.identify(data) is None or carve.identify(data).length <= len(data)


def test_limit_stops_early() -> None:
    data = samples.make("amr-nb") * 5
    assert len(carve.carve(data, limit=2)) == 2
