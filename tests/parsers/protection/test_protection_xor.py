"""XOR-obfuscated and junk-prefixed audio: the key comes from the container's known head."""

from __future__ import annotations

import random

import pytest
from prot_helpers import audio_records, run, sample, sha

from parsers.protection import xor
from parsers.protection.xor import xor_with


def key_of(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    while True:
        key = bytes(rng.randrange(1, 256) for _ in range(n))
        if len(set(key)) > 1 or n == 1:
            return key


CASES = [
    # (audio kind, key length, obfuscated span, expected derivation)
    ("amr", 1, None, "derived from container header"),
    ("mp3", 1, None, "derived from container header"),
    ("m4a", 4, None, "derived from container header"),
    ("wav", 4, None, "derived from container header"),
    ("opus", 16, None, "derived from container header"),
    ("wav", 16, None, "derived from container header"),
    ("wav", 32, None, "derived from container header and byte statistics"),
    ("amr", 4, 64, "derived from container header"),
    ("wav", 16, 64, "derived from container header"),
    ("opus", 1, 64, "derived from container header"),
]


@pytest.mark.parametrize(("kind", "klen", "span", "how"), CASES)
def test_xor_round_trips(tmp_path, kind, klen, span, how):
    original = sample(kind)
    key = key_of(klen, seed=klen * 7 + (span or 0))
    stored = xor_with(original, key, span)
    assert stored != original
    recs = run(tmp_path, {"data/data/com.example.vvmcache/files/msg0001": stored})
    [rec] = audio_records(recs)
    first = "" if span is None else f", first {span} bytes"
    assert rec.protection == "obfuscated"
    assert rec.method == f"xor(len={klen}{first}, {how})"
    assert rec.decodes and rec.sha256 == sha(original) and rec.data == original
    assert (rec.offset, rec.length, rec.key_path) == (0, len(stored), None)
    if klen >= 4:  # shorter keys are too short to search for in text
        text = repr(recs) + repr([r.method for r in recs])
        assert key.hex() not in text and key.hex().upper() not in text


def test_xor_recover_direct():
    original = sample("amr")
    got = xor.recover(xor_with(original, b"\x01\x02\x03"))
    assert got is not None and got.data == original and got.method.startswith("xor(len=3,")


@pytest.mark.parametrize("n", [4, 16, 37])
def test_junk_prefix(tmp_path, n):
    original = sample("mp3")
    junk = bytes(random.Random(n).randrange(256) for _ in range(n))
    stored = junk + original
    recs = audio_records(run(tmp_path, {"data/data/com.example.vault/files/a.bin": stored}))
    [rec] = recs
    assert (rec.protection, rec.method) == ("obfuscated", f"prefix(n={n})")
    assert (rec.offset, rec.length, rec.sha256) == (n, len(original), sha(original))
    assert rec.data is None  # a plain slice of the stored file


def test_prefix_needs_audio_to_end_of_file(tmp_path):
    # junk before and after: ordinary embedded audio, the carver's business
    stored = b"\x00" * 8 + sample("amr") + b"trailing bytes"
    assert audio_records(run(tmp_path, {"a/mixed.bin": stored})) == []


def test_random_and_plain_files_give_nothing(tmp_path):
    rng = random.Random(5)
    files = {
        "a/random.bin": bytes(rng.randrange(256) for _ in range(20000)),
        "a/text.txt": b"the quick brown fox jumps over the lazy dog\n" * 400,
        "a/zeros.bin": bytes(5000),
    }
    assert audio_records(run(tmp_path, files)) == []
