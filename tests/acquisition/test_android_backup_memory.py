"""Memory stays flat while a >= 256 MiB encrypted ``.ab`` is streamed.

Measured in a fresh subprocess (tracemalloc peak and ru_maxrss growth after imports), so
nothing the test process already holds hides or inflates the figure.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from android_backup_writer import big_member_tar, repetitive_chunks, write_ab

SIZE = 256 << 20
LIMIT = 64 << 20
REPO = Path(__file__).resolve().parents[2]

MEASURE = r"""
import hashlib, json, resource, sys, tracemalloc
sys.path.insert(0, sys.argv[3])
from acquisition.android_backup import AndroidBackupSource
from acquisition.base import Entry
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
digest, total, paths = hashlib.sha256(), 0, []
with AndroidBackupSource(sys.argv[1], password=sys.argv[2]) as source:
    for item in source.entries():
        paths.append(item.path)
        if isinstance(item, Entry) and item.opener is not None:
            stream = item.open()
            if sys.argv[4] == "whole":  # the control: what holding it all would look like
                chunk = stream.read()
                digest.update(chunk)
                total += len(chunk)
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
                total += len(chunk)
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"sha256": digest.hexdigest(), "bytes": total, "paths": paths,
                  "traced_peak": peak, "rss_growth": (after - before) * 1024}))
"""


def expected_sha256() -> str:
    digest = hashlib.sha256()
    for chunk in repetitive_chunks(SIZE):
        digest.update(chunk)
    return digest.hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("compressed", [True, False], ids=["compressed", "uncompressed"])
def test_streaming_a_256_mib_encrypted_backup_keeps_memory_flat(tmp_path, compressed):
    ab = write_ab(
        tmp_path / "big.ab",
        big_member_tar("apps/com.x.vvm/f/vm.raw", SIZE),
        compressed=compressed,
        password="pw",
    )
    if compressed:
        assert ab.stat().st_size < SIZE // 50  # small on disk, 256 MiB once inflated
    else:
        assert ab.stat().st_size > SIZE
    run = subprocess.run(
        [sys.executable, "-c", MEASURE, str(ab), "pw", str(REPO), "chunks"],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(run.stdout)
    assert figures["paths"] == ["data/data/com.x.vvm/files/vm.raw"]
    assert figures["bytes"] == SIZE
    assert figures["sha256"] == expected_sha256()
    peak, growth = figures["traced_peak"] / 2**20, figures["rss_growth"] / 2**20
    print(f"\ntraced peak {peak:.1f} MiB, rss growth {growth:.1f} MiB")
    assert figures["traced_peak"] < LIMIT
    assert figures["rss_growth"] < LIMIT


def test_the_measurement_sees_a_whole_read(tmp_path):
    """Control: reading the member whole must show up, or the bound above proves nothing."""
    ab = write_ab(
        tmp_path / "big.ab",
        big_member_tar("apps/com.x.vvm/f/vm.raw", SIZE),
        compressed=True,
        password="pw",
    )
    run = subprocess.run(
        [sys.executable, "-c", MEASURE, str(ab), "pw", str(REPO), "whole"],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(run.stdout)
    assert figures["bytes"] == SIZE
    assert figures["traced_peak"] > SIZE
    assert figures["rss_growth"] > SIZE // 2
