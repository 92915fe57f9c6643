"""`vmforensics acquire UDID` against the virtual iOS device (behind a fake usbmuxd) gives
what an offline scan of the same backup folder gives (issue 7)."""

from __future__ import annotations

import json

import pytest
from vmf_testutil import read_lines

from vmforensics.virtual.ios.device import VirtualIosDevice


def essence(lines: list[dict]) -> tuple[list, set]:
    vms = sorted(
        (v["locator"], v["caller"], v["received_utc"], v["transcript"], v["deleted"])
        for v in lines
        if v["type"] == "voicemail"
    )
    audio = {(a["evidence_path"], a["sha256"]) for a in lines if a["type"] == "audio"}
    return vms, audio


@pytest.mark.parametrize("name", ["ios-plain", "ios-encrypted"])
def test_acquire_ios_matches_offline_scan(cli, images, tmp_path, name):
    password = images / f"{name}.password"
    env = {"VMF_PASSWORD": password.read_text().strip()} if password.exists() else {}
    offline = cli(
        "scan", str(images / name), "--case", str(tmp_path / "offline"), "--quiet", env=env
    )
    assert offline.code == 0, offline
    with VirtualIosDevice(images / name, socket_path=str(tmp_path / "usbmuxd.sock")) as dev:
        env = {**env, "USBMUXD_SOCKET_ADDRESS": dev.usbmux_address, "HOME": str(tmp_path)}
        listed = cli("devices", "--json", env=env)
        assert listed.code == 0, listed
        assert dev.udid in {d.get("serial") for d in json.loads(listed.out)}
        res = cli("acquire", dev.udid, "--case", str(tmp_path / "live"), "--quiet", env=env)
    assert res.code == 0, res
    assert "Traceback" not in res.err and "exception" not in res.err.lower(), res.err
    off_vms, off_audio = essence(read_lines(tmp_path / "offline" / "artifacts.jsonl"))
    live_vms, live_audio = essence(read_lines(tmp_path / "live" / "artifacts.jsonl"))
    assert off_vms and live_vms == off_vms
    assert {sha for _, sha in live_audio} == {sha for _, sha in off_audio}
    case = json.loads((tmp_path / "live" / "case.json").read_text())
    assert case["sources"][0]["kind"] == "ios-device"
    assert case["sources"][0]["complete"] is True
