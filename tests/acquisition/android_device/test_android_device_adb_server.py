"""The system-adb fallback: the same acquisition through Debian's ``adb`` server.

A phone held by a running adb server cannot be claimed over USB by adb-shell; the source
then drives ``adb -s SERIAL ...``. Against the virtual phone (which the adb server reaches
over TCP) that path must give the same files, byte for byte, as the adb-shell path.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "vmforensics" / "virtual"))
from adb_image_builder import DB_REL, VM_REL, build_image

from acquisition.android_device import AndroidDeviceSource
from acquisition.base import Entry, EntryKind
from vmforensics.virtual.adb import VirtualAdbDevice

ADB = shutil.which("adb")
pytestmark = [
    pytest.mark.skipif(ADB is None, reason="Debian's 'adb' is not installed (apt-get install adb)"),
    pytest.mark.timeout(120),
]


@pytest.fixture()
def served(tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))
    files = build_image(tmp_path / "img", device={"serial": "SRV1"})
    with VirtualAdbDevice(tmp_path / "img", root=True) as dev:
        try:
            for _ in range(100):
                subprocess.run([ADB, "connect", dev.address], capture_output=True, timeout=30)
                state = subprocess.run(
                    [ADB, "-s", dev.address, "get-state"],
                    capture_output=True,
                    text=True,
                    timeout=30,
                ).stdout.strip()
                if state == "device":
                    break
                time.sleep(0.1)
            else:
                pytest.fail("adb never saw the virtual device")
            yield dev, files
        finally:
            subprocess.run([ADB, "kill-server"], capture_output=True, timeout=30)


def _collect(src: AndroidDeviceSource) -> tuple[dict[str, bytes], dict[str, object]]:
    got: dict[str, bytes] = {}
    with src:
        for item in src.entries():
            if isinstance(item, Entry) and item.kind == EntryKind.FILE:
                with item.open() as fh:
                    got[item.path] = fh.read()
        return got, src.describe()


def test_adb_server_route_matches_adb_shell_route(served, tmp_path):
    dev, files = served
    commands: list[str] = []
    via_server, desc = _collect(
        AndroidDeviceSource(
            f"adb:{dev.address}",
            workdir=tmp_path / "w1",
            key_dir=tmp_path / "k",
            on_command=commands.append,
        )
    )
    via_shell, _ = _collect(
        AndroidDeviceSource(dev.address, workdir=tmp_path / "w2", key_dir=tmp_path / "k")
    )
    assert desc["transport"] == "adb-server" and desc["serial"] == "SRV1"
    assert via_server[VM_REL] == files[VM_REL] and via_server[DB_REL] == files[DB_REL]
    assert via_server == via_shell
    assert "exec:su -c 'tar -cf - -C /data/data com.android.providers.contacts'" in commands


def test_usb_spec_falls_back_to_the_server_holding_the_device(served, tmp_path):
    pytest.importorskip("adb_shell")
    try:
        import usb1  # noqa: F401

        pytest.skip("libusb is installed: the direct USB path would be tried first")
    except ImportError:
        pass
    dev, files = served
    prompts: list[str] = []
    got, desc = _collect(
        AndroidDeviceSource(
            f"usb:{dev.address}",
            workdir=tmp_path / "w",
            key_dir=tmp_path / "k",
            on_prompt=prompts.append,
        )
    )
    assert any("held by a running adb server" in p for p in prompts)
    assert desc["transport"] == "adb-server"
    assert got[VM_REL] == files[VM_REL]


def test_list_devices_includes_the_running_adb_server(served, tmp_path):
    from acquisition.android_device import list_devices

    dev, _ = served
    commands: list[str] = []
    found = list_devices([], key_dir=tmp_path / "k", on_command=commands.append)
    (mine,) = [d for d in found if d["serial"] == dev.address]
    assert mine["kind"] == "android" and mine["transport"] == "adb-server"
    assert mine["model"] == "Virtual Phone" and mine["os"] == "Android 14"
    assert all("getprop" in c for c in commands)
    # the same device named with --connect is listed once, reached directly
    both = list_devices([dev.address], key_dir=tmp_path / "k")
    assert [d["serial"] for d in both].count(dev.address) == 1
    assert both[0]["transport"] == "tcp"


def test_no_adb_server_is_started_by_listing(tmp_path, monkeypatch):
    from acquisition.android_device import list_devices

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))
    assert [d for d in list_devices([], key_dir=tmp_path / "k") if d["transport"] != "usb"] == []
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # still nothing listening
