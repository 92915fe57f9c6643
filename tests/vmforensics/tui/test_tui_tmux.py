"""The real program in a real terminal (tmux, 80x24): start, send keys, read the pane.

This is what a responder over SSH sees: no Textual test harness, the real driver, the
real key sequences a terminal sends for F-keys and Ctrl combinations.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
STEPS = 300  # x 0.1 s: a bound on each wait, never a measurement

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.name = f"vmf-tui-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        # a server of our own: no interference with the user's tmux or other tests
        self.base = ["tmux", "-L", self.name]
        subprocess.run(
            [
                *self.base,
                "new-session",
                "-d",
                "-s",
                self.name,
                "-x",
                "80",
                "-y",
                "24",
                f"cd {shlex.quote(str(REPO))} && env {exports} {command}; sleep 30",
            ],
            check=True,
        )

    def pane(self) -> str:
        return subprocess.run(
            [*self.base, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        ).stdout

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.base, "send-keys", "-t", self.name, *keys], check=True)

    def wait(self, *texts: str) -> str:
        """Until every text is on screen (a repaint may be caught half way)."""
        for _ in range(STEPS):
            screen = self.pane()
            if all(text in screen for text in texts):
                time.sleep(0.3)  # let the screen finish mounting before the next keys
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{texts!r} never all appeared; the pane shows:\n{self.pane()}")

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True)


def env_for(tmp_path: Path) -> dict[str, str]:
    return {
        "SOURCE_DATE_EPOCH": "1767225600",
        "TERM": "xterm-256color",
        "HOME": str(tmp_path),
        "ANDROID_ADB_SERVER_PORT": "1",
        "USBMUXD_SOCKET_ADDRESS": f"UNIX:{tmp_path / 'no-usbmuxd'}",
        "PATH": os.environ.get("PATH", ""),
    }


def test_first_screens_in_tmux(tmp_path):
    case_dir = tmp_path / "case"
    cmd = (
        f"{shlex.quote(sys.executable)} -m vmforensics tui --case {shlex.quote(str(case_dir))}"
        " --examiner Responder --poll 0"
    )
    tmux = Tmux(cmd, env_for(tmp_path))
    try:
        tmux.wait("Open / create case", "no case open", "f2 Devices")
        tmux.keys("Enter")  # the folder field has the focus and is prefilled
        tmux.wait("OPEN: case", "case-created")
        data = json.loads((case_dir / "case.json").read_text())
        assert data["examiner"] == "Responder" and data["created_utc"] == "2026-01-01T00:00:00Z"
        tmux.keys("F2")
        tmux.wait("Connected devices", "HOST:PORT of an ADB target over TCP")
        tmux.keys("C-t")
        tmux.keys("-l", "nonsense")
        tmux.keys("Enter")
        tmux.wait("give HOST:PORT")  # an error in the UI, not a traceback
        tmux.keys("F3")
        tmux.wait("Commands sent to the device", "no source selected")
        tmux.keys("C-r")
        tmux.wait("Choose a device")
        tmux.keys("C-q")
        for _ in range(STEPS):
            if "Commands sent" not in tmux.pane():
                break
            time.sleep(0.1)
        assert "Commands sent" not in tmux.pane()  # the app quit and left the screen
        assert "Traceback" not in tmux.pane()
    finally:
        tmux.close()


def test_no_arguments_on_a_terminal_opens_the_tui(tmp_path):
    tmux = Tmux(f"{shlex.quote(sys.executable)} -m vmforensics", env_for(tmp_path))
    try:
        tmux.wait("Open / create case")
        tmux.keys("C-q")
    finally:
        tmux.close()


def test_an_internal_error_is_one_line_not_a_traceback(tmp_path):
    script = tmp_path / "boom.py"
    script.write_text(
        "from vmforensics.tui.app import VmfApp\n"
        "class Boom(VmfApp):\n"
        "    def on_mount(self):\n"
        "        super().on_mount()\n"
        "        self.set_timer(0.2, self.boom)\n"
        "    def boom(self):\n"
        "        raise ValueError('simulated bug')\n"
        "app = Boom(poll_seconds=0, lister=lambda c, k: [])\n"
        "app.run()\n"
        "print('exit', app.return_code)\n"
    )
    tmux = Tmux(f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}", env_for(tmp_path))
    try:
        screen = tmux.wait("exit 1")
        assert "internal error: ValueError: simulated bug" in screen
        assert "Traceback" not in screen
    finally:
        tmux.close()
