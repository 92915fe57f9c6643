"""The virtual ADB device against an independent client: Debian's ``adb`` (platform-tools).

The adb server is a daemon: it runs with its own HOME (for its key) and its own server
port, and is killed in teardown, so nothing leaks into the machine's adb setup.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from adb_image_builder import build_image

from vmforensics.virtual.adb import VirtualAdbDevice

ADB = shutil.which("adb")
pytestmark = [
    pytest.mark.skipif(ADB is None, reason="Debian's 'adb' is not installed (apt-get install adb)"),
    pytest.mark.timeout(120),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Adb:
    def __init__(self, home: Path, port: int) -> None:
        self.env = {**os.environ, "HOME": str(home), "ANDROID_ADB_SERVER_PORT": str(port)}
        self.env.pop("ADB_VENDOR_KEYS", None)

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [ADB, *args], env=self.env, capture_output=True, text=True, timeout=30, check=False
        )
        if check:
            assert proc.returncode == 0, f"adb {' '.join(args)}: {proc.stdout}{proc.stderr}"
        return proc


@pytest.fixture()
def device(tmp_path: Path) -> Iterator[tuple[VirtualAdbDevice, dict[str, bytes], Adb, str]]:
    files = build_image(
        tmp_path / "image", device={"model": "Conformance Phone", "android_version": "12"}
    )
    adb = Adb(tmp_path / "home", _free_port())
    (tmp_path / "home").mkdir()
    with VirtualAdbDevice(tmp_path / "image") as dev:
        try:
            adb("connect", dev.address, check=False)
            for _ in range(100):  # the first connection ends with the key prompt, then retries
                state = adb("-s", dev.address, "get-state", check=False).stdout.strip()
                if state == "device":
                    break
                adb("connect", dev.address, check=False)
                time.sleep(0.1)
            else:
                pytest.fail(f"adb never saw {dev.address} as a device")
            yield dev, files, adb, dev.address
        finally:
            adb("kill-server", check=False)


def test_devices_and_shell(device):
    dev, _, adb, serial = device
    listing = adb("devices", "-l").stdout
    line = next(ln for ln in listing.splitlines() if ln.startswith(serial))
    assert "device" in line.split()
    assert "model:Conformance_Phone" in line
    out = adb("-s", serial, "shell", "getprop", "ro.build.version.release").stdout
    assert out.strip() == "12"
    assert "user allowed the key" in dev.auth_log  # adb's own key went through the prompt


def test_pull_file_folder_and_ls(device, tmp_path):
    _dev, files, adb, serial = device
    dest = tmp_path / "pulled"
    dest.mkdir()
    adb("-s", serial, "pull", "/sdcard/Music/voicemail-shared-1.amr", str(dest / "one.amr"))
    assert (dest / "one.amr").read_bytes() == files["sdcard/Music/voicemail-shared-1.amr"]

    adb("-s", serial, "pull", "/sdcard", str(dest / "sd"))
    pulled = {
        p.relative_to(dest / "sd").as_posix(): p.read_bytes()
        for p in (dest / "sd").rglob("*")
        if p.is_file()
    }
    expected = {k[len("sdcard/") :]: v for k, v in files.items() if k.startswith("sdcard/")}
    assert pulled == expected

    ls = adb("-s", serial, "ls", "/sdcard/Music").stdout.splitlines()
    names = [ln.split(" ", 3)[3] for ln in ls]
    assert names == [".", "..", "voicemail-shared-1.amr"]
    size = int(ls[2].split(" ")[1], 16)
    assert size == len(files["sdcard/Music/voicemail-shared-1.amr"])


def test_pull_refused_where_the_shell_user_cannot_read(device, tmp_path):
    _dev, _, adb, serial = device
    proc = adb(
        "-s",
        serial,
        "pull",
        "/data/data/com.android.providers.contacts/databases/calllog.db",
        str(tmp_path / "x.db"),
        check=False,
    )
    assert proc.returncode != 0
    # as on a real phone: lstat inside another app's sandbox fails, STAT answers zeros
    assert "does not exist" in proc.stdout + proc.stderr
    assert not (tmp_path / "x.db").exists()


def test_adb_backup_writes_a_readable_ab(device, tmp_path):
    import io
    import tarfile
    import zlib

    dev, files, adb, serial = device
    out = tmp_path / "phone.ab"
    adb("-s", serial, "backup", "-f", str(out), "-noapk", "com.android.providers.contacts")
    assert any(r.startswith("backup:") and "-noapk" in r for r in dev.requests)
    header, body = out.read_bytes().split(b"\n", 4)[:4], out.read_bytes().split(b"\n", 4)[4]
    assert header == [b"ANDROID BACKUP", b"5", b"1", b"none"]
    with tarfile.open(fileobj=io.BytesIO(zlib.decompress(body))) as tf:
        db = tf.extractfile("apps/com.android.providers.contacts/db/calllog.db").read()
    assert db == files["data/data/com.android.providers.contacts/databases/calllog.db"]
