"""Cancel mid-acquisition, and the device disappearing mid-acquisition, from the UI: the
case says incomplete and the custody log records why."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest
from tuikit import artifacts, case_json, custody, type_into, wait_for

from vmforensics.tui.app import VmfApp
from vmforensics.tui.screens.acquire import AcquireScreen
from vmforensics.tui.state import Target
from vmforensics.virtual.adb.server import VirtualAdbDevice

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "virtual"))
from adb_image_builder import build_image


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", "1")


async def start(pilot, case_dir: Path, spec: str) -> AcquireScreen:
    app: VmfApp = pilot.app
    assert app.open_case(case_dir, None, "Ann", None, None)
    app.target = Target(spec=spec, kind="android-device", offline=False)
    await pilot.press("f3")
    screen = app.screen
    assert isinstance(screen, AcquireScreen)
    await type_into(pilot, "#password", "")
    await pilot.press("ctrl+r")
    return screen


@pytest.fixture
def held(tmp_path):
    """A phone that holds its answer to the package list until the test releases it."""
    image = tmp_path / "image"
    build_image(image)
    gate = threading.Event()
    reached = threading.Event()
    with VirtualAdbDevice(image, root=True, port=0) as dev:
        real_run = dev.shell.run

        def held_run(line, user=None):
            if line.startswith("pm list packages"):
                reached.set()
                gate.wait(30)
            return real_run(line) if user is None else real_run(line, user)

        dev.shell.run = held_run
        try:
            yield dev, gate, reached
        finally:
            gate.set()


def log_text(screen: AcquireScreen) -> str:
    return "\n".join(x.text for x in screen.query_one("#acq-log").lines)


def check_interrupted(case_dir: Path) -> None:
    [src] = case_json(case_dir)["sources"]
    assert src["complete"] is False
    events = [e["event"] for e in custody(case_dir)]
    assert "interrupted" in events and "source-scanned" not in events
    # the case stays consistent: artifacts.jsonl rewritten, scratch removed
    assert (case_dir / "artifacts.jsonl").is_file()
    assert not (case_dir / "tmp").exists()


def test_cancel_mid_acquisition(tmp_path, held):
    dev, gate, reached = held

    async def drive() -> AcquireScreen:
        app = VmfApp(key_dir=tmp_path / "keys", poll_seconds=0)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await start(pilot, tmp_path / "case", dev.address)
            await wait_for(pilot, reached.is_set, "the package list request")
            await wait_for(
                pilot, lambda: "pm list packages" in log_text(screen), "the command in the log"
            )
            await pilot.press("ctrl+x")
            assert screen.progress is not None and screen.progress.cancelled
            gate.set()
            await wait_for(pilot, lambda: screen.last_result is not None, "the end")
            assert str(screen.query_one("#acq-state").render()) == "CANCELLED"
            return screen

    screen = asyncio.run(drive())
    assert screen.last_result.cancelled and screen.last_result.incomplete
    check_interrupted(tmp_path / "case")


def test_quit_mid_acquisition_cancels_first(tmp_path, held):
    dev, gate, reached = held

    async def drive() -> VmfApp:
        app = VmfApp(key_dir=tmp_path / "keys", poll_seconds=0)
        async with app.run_test(size=(100, 30)) as pilot:
            await start(pilot, tmp_path / "case", dev.address)
            await wait_for(pilot, reached.is_set, "the package list request")
            await pilot.press("ctrl+q")
            assert app.quit_when_idle and app.is_running  # still running: cancelling
            gate.set()
            await wait_for(pilot, lambda: not app.is_running, "the program to end")
        return app

    app = asyncio.run(drive())
    assert app.return_code in (0, None)
    check_interrupted(tmp_path / "case")


def test_device_disappears_mid_acquisition(tmp_path):
    big = {"files/big.bin": bytes(range(256)) * 2000}
    build_image(tmp_path / "image", extra_packages={"com.android.dialer": big})
    with VirtualAdbDevice(
        tmp_path / "image", root=True, fail_after_bytes=200_000, fail_in_service="exec:su"
    ) as dev:

        async def drive() -> AcquireScreen:
            app = VmfApp(key_dir=tmp_path / "keys", poll_seconds=0)
            async with app.run_test(size=(100, 30)) as pilot:
                screen = await start(pilot, tmp_path / "case", dev.address)
                await wait_for(pilot, lambda: screen.last_result is not None, "the end")
                assert "INCOMPLETE" in screen.query_one("#acq-log").lines[-1].text
                return screen

        screen = asyncio.run(drive())
        assert dev.drops == 1
    result = screen.last_result
    assert result is not None and result.incomplete and not result.ok and not result.cancelled
    [src] = case_json(tmp_path / "case")["sources"]
    assert src["complete"] is False
    events = custody(tmp_path / "case")
    assert "incomplete" in [e["event"] for e in events]
    errors = [a for a in artifacts(tmp_path / "case") if a["type"] == "error"]
    assert any("INCOMPLETE" in a["message"] for a in errors)
