"""Large files stream: acquiring a phone never holds a whole file in memory."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path

import pytest

from acquisition.base import Entry
from acquisition.ios_device import IosDeviceSource
from vmforensics.virtual.ios import VirtualIosDevice
from vmforensics.virtual.ios.sample import SampleFile, build_backup

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

SIZE = 32 * 1024 * 1024


def test_a_32_mib_recording_is_streamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB, not all one byte
    data = block * (SIZE // len(block))
    files = [
        SampleFile("MediaDomain", "Media/Recordings", None),
        SampleFile("MediaDomain", "Media/Recordings/long.m4a", data),
    ]
    image = build_backup(tmp_path / "image", files)
    want = hashlib.sha256(data).hexdigest()
    del data, files
    with VirtualIosDevice(image) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.usbmux_address)
        src = IosDeviceSource(
            dev.udid, workdir=tmp_path / "work", pairing_dir=tmp_path / "p", apps=[]
        )
        tracemalloc.start()
        try:
            with src:
                items = [e for e in src.entries() if isinstance(e, Entry)]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    got = {e.path: e for e in items}
    for path in ("afc/Recordings/long.m4a", "MediaDomain/Media/Recordings/long.m4a"):
        digest = hashlib.sha256()
        with got[path].open() as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        assert digest.hexdigest() == want, path
    # Both the backup and the AFC copy moved 32 MiB each; the peak stays a few MiB.
    print(f"peak traced memory: {peak / 1e6:.1f} MB")
    assert peak < 12 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
