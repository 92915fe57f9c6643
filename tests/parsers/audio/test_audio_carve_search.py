"""The signature search: Hyperscan (optional) and the re fallback find the same candidates."""

from __future__ import annotations

import random

import audio_carve_samples as samples
import pytest

from parsers.audio import carve


def _blob() -> bytes:
    rng = random.Random(4)
    parts = [rng.randbytes(3000)]
    for name in ["amr-nb", "mp3-8k", "aac-3gp", "flac", "wav-alaw", "caf", "aiff", "opus-ogg"]:
        parts += [samples.make(name), rng.randbytes(rng.randrange(1, 2000))]
    parts.append(b"\xff\xfb" * 70_000)  # more candidates than the Hyperscan batch cap
    parts.append(b"RIFF#!AMRftypOggSfLaCcaffFORMID3RF64")
    return b"".join(parts)


def _all(gen) -> list[int]:
    return [cand for cand, _sig in gen]


def test_backends_agree_on_candidates() -> None:
    db = carve._hs_database()
    if db is None:
        pytest.skip("hyperscan is not installed (the re fallback is what runs)")
    data = _blob()
    mv = memoryview(data)
    for start, stop in [(0, len(data)), (1, len(data) - 7), (5000, 5001), (0, 0)]:
        assert _all(carve._hs_candidates(db, mv, start, stop)) == _all(
            carve._re_candidates(mv, start, stop)
        )


def test_backends_agree_on_hits(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _blob()
    fast = carve.carve(data)
    monkeypatch.setattr(carve, "_hs_database", lambda: None)
    slow = carve.carve(data)
    assert fast == slow
    assert sum(h.decodes for h in slow) == 8
