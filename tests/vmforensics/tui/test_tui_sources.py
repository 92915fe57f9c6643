"""Devices appearing and disappearing live; an offline source picked in the file browser
(encrypted: the masked password is required); errors shown in the UI."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from textual.widgets import DataTable, DirectoryTree, Input
from tuikit import case_json, custody, make_key, type_into, wait_for

from vmforensics.tui.app import VmfApp
from vmforensics.tui.screens.acquire import AcquireScreen
from vmforensics.tui.screens.seal import SealScreen
from vmforensics.virtual.adb.server import VirtualAdbDevice
from vmforensics.virtual.ios.device import VirtualIosDevice

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "virtual"))
from adb_image_builder import build_image

IMAGES = Path(__file__).resolve().parents[3] / "testdata" / "images"


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", f"UNIX:{tmp_path / 'mux.sock'}")


def row_state(app: VmfApp, spec: str) -> str | None:
    table = app.screen.query_one("#device-list", DataTable)
    for key in table.rows:
        if key.value == spec:
            return str(table.get_row(key)[1])
    return None


def test_devices_appear_and_disappear(tmp_path):
    build_image(tmp_path / "image")
    adb = VirtualAdbDevice(tmp_path / "image", port=0).start()
    address = adb.address

    async def drive() -> None:
        app = VmfApp(key_dir=tmp_path / "keys", poll_seconds=0.1)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f2")
            await type_into(pilot, "#tcp-target", address)
            await pilot.press("enter")
            await wait_for(pilot, lambda: row_state(app, address) == "ready", "the TCP target")
            # an iPhone is plugged in: usbmux lists it at the next poll
            with VirtualIosDevice(IMAGES / "ios-plain", socket_path=str(tmp_path / "mux.sock")):
                await wait_for(
                    pilot,
                    lambda: any(d.get("kind") == "ios" for d in app.devices),
                    "the iPhone to appear",
                )
                ios = next(d for d in app.devices if d.get("kind") == "ios")
                assert ios["model"] and ios["os"].startswith("iOS")
            await wait_for(
                pilot,
                lambda: not any(d.get("kind") == "ios" for d in app.devices),
                "the iPhone to disappear",
            )
            # the phone on TCP stops answering: it stays listed, marked unreachable
            adb.stop()
            await wait_for(
                pilot, lambda: row_state(app, address) == "UNREACHABLE", "the target to go"
            )
            table = app.screen.query_one("#device-list", DataTable)
            table.focus()
            await pilot.press("enter")  # choosing it says why it cannot be used
            await pilot.pause()
            assert app.target is None

    try:
        asyncio.run(drive())
    finally:
        adb.__exit__(None, None, None)


def test_usbmux_events_refresh_the_list_without_polling(tmp_path):
    """With a ten-minute poll, only usbmux's attach/detach events can update the list."""
    sock = str(tmp_path / "mux.sock")

    async def drive() -> None:
        dev = VirtualIosDevice(IMAGES / "ios-plain", socket_path=sock)
        dev.__enter__()
        try:
            app = VmfApp(poll_seconds=600)
            async with app.run_test(size=(100, 30)) as pilot:
                await pilot.press("f2")
                await wait_for(pilot, lambda: row_state(app, dev.udid) == "ready", "the iPhone")
                polls = app.polls
                dev.__exit__(None, None, None)  # usbmuxd and the phone go away
                await wait_for(pilot, lambda: row_state(app, dev.udid) is None, "it to go")
                assert app.polls > polls
                again = VirtualIosDevice(IMAGES / "ios-plain", socket_path=sock)
                with again:  # plugged back in: the listener reconnects, Attached arrives
                    await wait_for(
                        pilot, lambda: row_state(app, again.udid) == "ready", "it to return"
                    )
        finally:
            dev.__exit__(None, None, None)

    asyncio.run(drive())


def test_offline_encrypted_backup_from_the_browser(tmp_path, monkeypatch):
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "ios-encrypted").symlink_to(IMAGES / "ios-encrypted")
    monkeypatch.chdir(tmp_path)
    password = (IMAGES / "ios-encrypted.password").read_text().strip()

    async def drive() -> AcquireScreen:
        app = VmfApp(poll_seconds=0, browse_root=Path("evidence"), lister=lambda c, k: [])
        async with app.run_test(size=(100, 30)) as pilot:
            assert app.open_case(tmp_path / "case", "C-9", "Ann", None, None)
            await pilot.press("f2")
            await pilot.press("ctrl+b")
            tree = app.screen.query_one("#browser", DirectoryTree)
            assert tree.has_focus
            await wait_for(pilot, lambda: tree.last_line >= 1, "the browser to list")
            await pilot.press("down", "enter")  # the ios-encrypted folder
            box = app.screen.query_one("#offline-path", Input)
            await wait_for(pilot, lambda: box.value.endswith("ios-encrypted"), "the path")
            await pilot.click("#use-path")  # the mouse works too
            await wait_for(pilot, lambda: isinstance(app.screen, AcquireScreen), "acquire")
            screen = app.screen
            assert app.target is not None and app.target.encrypted is True
            assert app.target.kind == "ios-backup"
            await pilot.press("ctrl+r")  # refused: no password yet
            await pilot.pause()
            assert screen.last_result is None and not screen.running
            field = screen.query_one("#password", Input)
            assert field.password  # masked
            await type_into(pilot, "#password", password)
            await pilot.click("#start")
            await wait_for(pilot, lambda: screen.last_result is not None, "the scan")
            return screen

    screen = asyncio.run(drive())
    assert screen.last_result.ok, screen.last_result
    [src] = case_json(tmp_path / "case")["sources"]
    assert src["kind"] == "ios-backup" and src["password_provided"] is True
    assert src["complete"] is True
    text = (tmp_path / "case" / "custody.jsonl").read_text()
    assert password not in text and password not in (tmp_path / "case" / "case.json").read_text()


def test_seal_errors_are_shown(tmp_path):
    key = make_key(tmp_path, "right passphrase")

    async def drive() -> SealScreen:
        app = VmfApp(poll_seconds=0, lister=lambda c, k: [])
        async with app.run_test(size=(80, 24)) as pilot:
            assert app.open_case(tmp_path / "case", "C-1", "Ann", None, None)
            await pilot.press("f5")
            screen = app.screen
            assert isinstance(screen, SealScreen)
            await type_into(pilot, "#key", str(key))
            await type_into(pilot, "#passphrase", "wrong")
            await type_into(pilot, "#out", str(tmp_path / "out"))
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: screen.result is not None, "the refusal")
            return screen

    screen = asyncio.run(drive())
    assert screen.result is not None and not screen.result.ok
    assert "passphrase" in (screen.result.error or "").lower()
    assert not (tmp_path / "out").exists()
    assert "sealed" not in [e["event"] for e in custody(tmp_path / "case")]


def test_a_folder_that_is_not_a_case_is_refused_in_the_ui(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"\xff\xd8\xff")

    async def drive() -> list[str]:
        app = VmfApp(poll_seconds=0, lister=lambda c, k: [])
        async with app.run_test(size=(80, 24)) as pilot:
            await type_into(pilot, "#case-dir", str(folder))
            await pilot.press("enter")
            await pilot.pause()
            assert app.case is None
            return [str(n.message) for n in app._notifications]

    messages = asyncio.run(drive())
    assert any("is not a vmforensics case" in m for m in messages), messages
    assert sorted(p.name for p in folder.iterdir()) == ["holiday.jpg"]
