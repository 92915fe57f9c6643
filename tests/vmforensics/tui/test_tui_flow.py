"""The whole responder flow driven through the UI with Textual's Pilot, against the virtual
Android and iOS devices: case → device → acquisition → findings (export) → seal → verify.
Assertions are on the case folder and the sealed package, not only on widgets."""

from __future__ import annotations

import hashlib
import sys
import wave
from pathlib import Path

import pytest
from textual.widgets import DataTable
from tuikit import (
    artifacts,
    case_json,
    custody,
    make_key,
    select_row,
    type_into,
    wait_for,
)

from vmforensics.tui.app import VmfApp
from vmforensics.tui.screens.acquire import AcquireScreen
from vmforensics.tui.screens.findings import ExportDialog, FindingsScreen
from vmforensics.tui.screens.seal import SealScreen
from vmforensics.virtual.adb.server import VirtualAdbDevice
from vmforensics.virtual.ios.device import VirtualIosDevice

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "virtual"))
from adb_image_builder import build_image

IMAGES = Path(__file__).resolve().parents[3] / "testdata" / "images"
PASSPHRASE = "correct horse battery"


async def open_case(pilot, case_dir: Path) -> None:
    await type_into(pilot, "#case-dir", str(case_dir))
    await type_into(pilot, "#examiner", "Ann Examiner")
    await type_into(pilot, "#exhibit", "EX-1")
    await pilot.press("ctrl+o")
    await wait_for(pilot, lambda: pilot.app.case is not None, "the case to open")


async def acquire_listed(pilot, spec: str) -> AcquireScreen:
    app: VmfApp = pilot.app
    await pilot.press("f2")
    await wait_for(
        pilot,
        lambda: any(d.get("serial") == spec and not d.get("error") for d in app.devices),
        f"{spec} to be listed",
    )
    table = app.screen.query_one("#device-list", DataTable)
    await wait_for(pilot, lambda: spec in {k.value for k in table.rows}, "the row")
    table.focus()
    select_row(table, spec)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, AcquireScreen), "the acquire screen")
    screen = app.screen
    assert isinstance(screen, AcquireScreen)
    assert app.target is not None and app.target.spec == spec
    await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: screen.last_result is not None, "the acquisition to end")
    return screen


async def findings_and_export(pilot, out: Path) -> dict:
    app: VmfApp = pilot.app
    await pilot.press("f4")
    screen = app.screen
    assert isinstance(screen, FindingsScreen)
    await wait_for(pilot, lambda: screen.rows, "the findings")
    # filter to voicemail, then audio, by the type selector's value
    await type_into(pilot, "#filter-text", "voicemail")
    assert screen.shown and all("voicemail" in str(r).lower() for r in screen.shown)
    await type_into(pilot, "#filter-text", "")
    screen.query_one("#filter-type").value = "audio"
    await pilot.pause()
    assert screen.shown and {r["type"] for r in screen.shown} == {"audio"}
    table = screen.query_one("#findings", DataTable)
    table.focus()
    await pilot.press("s")  # sort cycles: severity → type
    assert screen.sort_by == "type"
    await pilot.press("down", "up")
    row = screen.current()
    assert row is not None and row["type"] == "audio"
    detail = str(screen.query_one("#detail-text").render())
    assert row["sha256"] in detail and "00000000" in detail  # hashes and the hex view
    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog), "the export dialog")
    await type_into(pilot, "#export-path", str(out))
    await pilot.press("enter")
    await wait_for(pilot, lambda: screen.last_export is not None, "the export")
    return row


async def seal(pilot, tmp_path: Path, recipient: str = "") -> SealScreen:
    app: VmfApp = pilot.app
    key = make_key(tmp_path, PASSPHRASE)
    await pilot.press("f5")
    screen = app.screen
    assert isinstance(screen, SealScreen)
    await type_into(pilot, "#key", str(key))
    await type_into(pilot, "#passphrase", PASSPHRASE)
    await type_into(pilot, "#recipients", recipient)
    await type_into(pilot, "#out", str(tmp_path / "sealed"))
    await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: screen.result is not None, "the seal")
    assert not screen.query_one("#passphrase").value  # the secret did not linger
    return screen


def check_case(case_dir: Path, kind: str, wav: Path, row: dict, schema_validator) -> None:
    data = case_json(case_dir)
    assert data["examiner"] == "Ann Examiner" and data["exhibit"] == "EX-1"
    [src] = data["sources"]
    assert src["kind"] == kind and src["complete"] is True
    lines = artifacts(case_dir)
    for line in lines:
        schema_validator.validate(line)
    assert [x for x in lines if x["type"] == "voicemail"]
    events = custody(case_dir)
    names = [e["event"] for e in events]
    for needed in ("case-created", "acquisition-started", "device-command", "source-scanned"):
        assert needed in names, needed
    exported = [e for e in events if e["event"] == "exported" and "output" in e["detail"]]
    assert exported[0]["detail"]["output"] == str(wav)
    assert exported[0]["detail"]["output_sha256"] == hashlib.sha256(wav.read_bytes()).hexdigest()
    assert exported[0]["detail"]["audio_sha256"] == row["sha256"]
    with wave.open(str(wav)) as w:
        assert w.getnframes() > 0 and w.getsampwidth() == 2
    assert "sealed" in names
    if kind == "android-device":
        assert "device-prompt" in names


def check_package(cli, tmp_path: Path, screen: SealScreen, identity: Path | None = None) -> None:
    assert screen.result is not None and screen.result.ok, screen.result
    [bag] = screen.result.bags
    assert Path(bag).is_dir()
    signer = str(tmp_path / "examiner.key.pub")
    res = cli("verify", bag, "--signer", signer)
    assert res.code == 0, res
    assert "VERIFIED" in res.out
    if identity is not None:
        [package] = screen.result.packages
        assert package.endswith(".tar.age")
        res = cli("verify", package, "--signer", signer, "--identity", str(identity))
        assert res.code == 0, res


def test_flow_android(tmp_path, monkeypatch, cli, schema_validator):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    image = tmp_path / "image"
    build_image(image)
    case_dir = tmp_path / "case"
    wav = tmp_path / "out.wav"

    async def drive() -> tuple[dict, SealScreen]:
        app = VmfApp(key_dir=tmp_path / "keys", poll_seconds=0.2, browse_root=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await open_case(pilot, case_dir)
            await pilot.press("f2")
            await type_into(pilot, "#tcp-target", dev.address)
            await pilot.press("enter")
            assert dev.address in app.connect
            acq = await acquire_listed(pilot, dev.address)
            assert acq.last_result is not None and acq.last_result.ok, acq.last_result
            log = acq.query_one("#acq-log").lines
            assert any("getprop" in line.text for line in log)  # the commands pane
            # the root check asks the person holding the phone: shown, and in custody
            assert any(line.text.startswith("!! ") for line in log)
            row = await findings_and_export(pilot, wav)
            return row, await seal(pilot, tmp_path, str(counsel.to_public()))

    pyrage = pytest.importorskip("pyrage")
    counsel = pyrage.x25519.Identity.generate()
    identity = tmp_path / "counsel.age"
    identity.write_text(str(counsel) + "\n")
    with VirtualAdbDevice(image, root=True, port=0) as dev:
        import asyncio

        row, screen = asyncio.run(drive())
    check_case(case_dir, "android-device", wav, row, schema_validator)
    check_package(cli, tmp_path, screen, identity)


def test_flow_ios(tmp_path, monkeypatch, cli, schema_validator):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    monkeypatch.setenv("HOME", str(tmp_path))
    case_dir = tmp_path / "case"
    wav = tmp_path / "out.wav"

    async def drive(udid: str) -> tuple[dict, SealScreen]:
        app = VmfApp(poll_seconds=0.2, browse_root=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await open_case(pilot, case_dir)
            acq = await acquire_listed(pilot, udid)
            assert acq.last_result is not None and acq.last_result.ok, acq.last_result
            row = await findings_and_export(pilot, wav)
            return row, await seal(pilot, tmp_path)

    with VirtualIosDevice(IMAGES / "ios-plain", socket_path=str(tmp_path / "mux.sock")) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.usbmux_address)
        import asyncio

        row, screen = asyncio.run(drive(dev.udid))
    check_case(case_dir, "ios-device", wav, row, schema_validator)
    check_package(cli, tmp_path, screen)


@pytest.fixture(autouse=True)
def _no_adb_server(monkeypatch):
    """A system adb server on this host must not add phones to the list under test."""
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", "1")
