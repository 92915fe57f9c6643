"""`vmforensics acquire` against the virtual Android device gives what an offline scan of
the same image gives: the same voicemail records and the same audio SHA-256 (issue 7)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from vmf_testutil import read_lines

from vmforensics.virtual.adb.server import VirtualAdbDevice

sys.path.insert(0, str(Path(__file__).resolve().parent / "virtual"))
from adb_image_builder import build_image


def essence(lines: list[dict]) -> tuple[list, set]:
    vms = sorted(
        (v["caller"], v["received_utc"], v["duration_s"], v["transcript"], v["deleted"])
        for v in lines
        if v["type"] == "voicemail"
    )
    audio = {(a["evidence_path"], a["sha256"]) for a in lines if a["type"] == "audio"}
    return vms, audio


@pytest.mark.parametrize("root", [True, False])
def test_acquire_matches_offline_scan(cli, tmp_path, root):
    image = tmp_path / "image"
    build_image(image)
    offline = cli("scan", str(image), "--case", str(tmp_path / "offline"), "--quiet")
    assert offline.code == 0, offline
    with VirtualAdbDevice(image, root=root, port=0) as dev:
        res = cli(
            "acquire",
            dev.address,
            "--case",
            str(tmp_path / "live"),
            "--quiet",
            "--adb-key-dir",
            str(tmp_path / "keys"),
        )
    assert res.code == 0, res
    assert "Traceback" not in res.err and "exception" not in res.err.lower(), res.err
    live_lines = read_lines(tmp_path / "live" / "artifacts.jsonl")
    off_vms, off_audio = essence(read_lines(tmp_path / "offline" / "artifacts.jsonl"))
    live_vms, live_audio = essence(live_lines)
    assert off_vms and live_vms == off_vms
    # the provider's own copy and the shared-storage copy both arrive
    assert {sha for _, sha in live_audio} == {sha for _, sha in off_audio}
    custody = [
        json.loads(x) for x in (tmp_path / "live" / "custody.jsonl").read_text().splitlines()
    ]
    commands = [e["detail"]["command"] for e in custody if e["event"] == "device-command"]
    assert any(c.startswith("shell:getprop") or "getprop" in c for c in commands)
    case = json.loads((tmp_path / "live" / "case.json").read_text())
    src = case["sources"][0]
    assert src["kind"] == "android-device" and src["complete"] is True
    assert src["description"].get("serial") or src["description"].get("model")
