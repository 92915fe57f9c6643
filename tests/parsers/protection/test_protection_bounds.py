"""Bounds: large stored files are read once and never copied whole; files above the
bound are named, not read."""

from __future__ import annotations

import os
import tracemalloc

from prot_helpers import audio_records, make_ctx

from parsers.protection import Analyser
from parsers.protection.common import MAX_BYTES
from parsers.records import ProblemRecord


def test_large_random_file_memory(tmp_path):
    size = 40 << 20
    ctx = make_ctx(tmp_path, {"data/data/com.samsung.vvm/files/big.bin": os.urandom(size)})
    tracemalloc.start()
    try:
        records = list(Analyser(ctx).run())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size + (8 << 20), peak
    [rec] = audio_records(records)
    assert (rec.protection, rec.size, rec.decodes) == ("encrypted", size, False)


def test_file_above_bound_is_reported_not_read(tmp_path):
    ctx = make_ctx(tmp_path, {"a/small": b"x"})
    big = ctx.root / "a" / "huge.img"
    with open(big, "wb") as f:
        f.truncate(MAX_BYTES + 1)  # sparse
    from parsers.base import Item

    ctx.items["a/huge.img"] = Item("a/huge.img", big, MAX_BYTES + 1, "0" * 64)
    records = list(Analyser(ctx).run())
    [problem] = [r for r in records if isinstance(r, ProblemRecord)]
    assert problem.path == "a/huge.img" and "carved only" in problem.message
