"""A hostile keybag cannot make unlocking run for hours: iteration counts far beyond any
iOS release (ITER 10 000, DPIC 10 000 000) are refused before PBKDF2 runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from acquisition.ios_backup.keybag import Keybag

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "testdata" / "images"))
from builders import ios


def _with(bag: bytes, tag: bytes, value: int) -> bytes:
    at = bag.index(tag)
    return bag[: at + 8] + value.to_bytes(4, "big") + bag[at + 12 :]


def test_real_shaped_keybag_unlocks():
    keys = ios.make_keys(ios.PASSWORD)
    bag = Keybag.parse(keys.keybag)
    bag.unlock(ios.PASSWORD)
    assert bag.classes[3].key == keys.class_keys[3]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("count", [0x7FFFFFFF, 0xFFFFFFFF])
@pytest.mark.parametrize("tag", [b"ITER", b"DPIC"])
def test_absurd_iteration_counts_are_refused(tag, count):
    hostile = _with(ios.make_keys(ios.PASSWORD).keybag, tag, count)
    bag = Keybag.parse(hostile)
    with pytest.raises(ValueError, match="iteration"):
        bag.unlock(ios.PASSWORD)
