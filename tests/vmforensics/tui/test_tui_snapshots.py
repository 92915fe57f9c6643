"""Every screen at 80x24 (the smallest terminal a responder may have over SSH) and at
160x48, compared with the stored SVG snapshots (pytest-textual-snapshot).

Deterministic by construction: a fixed clock (SOURCE_DATE_EPOCH), relative paths from a
fixed working folder, a fixed device list, no clock or spinner on screen.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vmforensics.case import Case
from vmforensics.pipeline import ScanOptions, scan
from vmforensics.progress import Progress
from vmforensics.tui.app import VmfApp
from vmforensics.tui.state import Target

IMAGES = Path(__file__).resolve().parents[3] / "testdata" / "images"
SIZES = [(80, 24), (160, 48)]
SCREENS = ["case", "devices", "acquire", "findings", "seal"]
DEVICES = [
    {"serial": "00008030-001A2B3C4D5E6F70", "kind": "ios", "model": "iPhone12,1", "os": "iOS 17.5"},
    {
        "serial": "192.168.1.20:5555",
        "kind": "android",
        "model": None,
        "os": None,
        "error": "connection refused",
    },
    {"serial": "R58M12ABCDE", "kind": "android", "model": "SM-G991B", "os": "Android 13"},
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A case holding a scan of the ios-plain backup, reached by relative paths."""
    import os

    root = tmp_path_factory.mktemp("snap")
    (root / "ios-plain").symlink_to(IMAGES / "ios-plain")
    (root / "backups").mkdir()
    (root / "backups" / "phone.ab").write_bytes(b"ANDROID BACKUP\n5\n1\nnone\n")
    old = os.getcwd()
    os.chdir(root)
    saved = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = "1767225600"
    try:
        case = Case.open_or_create(
            Path("case"), case_id="CASE-7", examiner="Ann Examiner", exhibit="EX-1"
        )
        scan(case, ["ios-plain"], ScanOptions(), Progress())
    finally:
        os.chdir(old)
        if saved is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = saved
    return root


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", SCREENS)
def test_screen_snapshot(snap_compare, workdir, monkeypatch, screen, size):
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    app = VmfApp(
        case_dir=Path("case"),
        examiner="Ann Examiner",
        lister=lambda _connect, _keys: [dict(d) for d in DEVICES],
        poll_seconds=0,
        browse_root=Path("."),
    )

    async def before(pilot) -> None:
        await pilot.pause()
        assert app.case is not None
        app.target = Target(
            spec="ios-plain",
            kind="ios-backup",
            offline=True,
            model="iPhone12,1",
            os="iOS 17.5",
            encrypted=False,
        )
        await pilot.press(
            {"case": "f1", "devices": "f2", "acquire": "f3", "findings": "f4"}.get(screen, "f5")
        )
        await pilot.pause()
        if screen == "devices":  # the browser lists its folder in a worker
            from textual.widgets import DirectoryTree

            tree = app.screen.query_one(DirectoryTree)
            for _ in range(200):
                if tree.last_line >= 3:
                    break
                await pilot.pause(0.05)
        await pilot.wait_for_scheduled_animations()

    assert snap_compare(app, terminal_size=size, run_before=before)
