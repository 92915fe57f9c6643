"""Conformance: libimobiledevice's own tools against the virtual iPhone.

libimobiledevice is an independent implementation of usbmux, lockdown, AFC and DeviceLink;
if its tools accept the virtual device, the device is not merely shaped to our client.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from vmforensics.virtual.ios import VirtualIosDevice
from vmforensics.virtual.ios.sample import build_backup

pytestmark = pytest.mark.timeout(120)

TOOLS = ("idevice_id", "ideviceinfo", "idevicebackup2")
missing = [t for t in TOOLS if shutil.which(t) is None]
needs_tools = pytest.mark.skipif(
    bool(missing),
    reason=f"libimobiledevice tools missing ({', '.join(missing)}): "
    "apt-get install libimobiledevice-utils",
)


def run(cmd: list[str], dev: VirtualIosDevice, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, USBMUXD_SOCKET_ADDRESS=dev.usbmux_address, HOME=str(home))
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=90)


@needs_tools
def test_idevice_id_and_ideviceinfo(tmp_path: Path) -> None:
    image = build_backup(tmp_path / "image", product_version="16.4.1")
    with VirtualIosDevice(image) as dev:
        listed = run(["idevice_id", "-l"], dev, tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.split() == [dev.udid]
        version = run(["ideviceinfo", "-k", "ProductVersion"], dev, tmp_path)
        assert version.returncode == 0, version.stderr
        assert version.stdout.strip() == "16.4.1"
        everything = run(["ideviceinfo"], dev, tmp_path)
        assert "SerialNumber: F2LSAMPLE001" in everything.stdout
        assert f"UniqueDeviceID: {dev.udid}" in everything.stdout


@needs_tools
@pytest.mark.parametrize("encrypted", [False, True])
def test_idevicebackup2_full_backup_is_the_image(tmp_path: Path, encrypted: bool) -> None:
    image = build_backup(tmp_path / "image", password="pw" if encrypted else None)
    out = tmp_path / "out"
    out.mkdir()
    with VirtualIosDevice(image) as dev:
        result = run(["idevicebackup2", "backup", "--full", str(out)], dev, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Backup Successful." in result.stdout
        assert ("Backup will be encrypted." in result.stdout) is encrypted
    got = out / dev.udid
    names = sorted(p.relative_to(image).as_posix() for p in image.rglob("*") if p.is_file())
    for name in names:
        if name != "Info.plist":
            assert filecmp.cmp(image / name, got / name, shallow=False), name
    assert (got / "Info.plist").is_file()
