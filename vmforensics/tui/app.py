"""The Textual application: five screens (modes), the open case, the live device list.

The app holds the state every screen shares (the case, the devices seen, the chosen
target) and polls for devices in a worker thread. Each screen owns its own work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.worker import get_current_worker

from vmforensics.case import Case
from vmforensics.tui.screens.acquire import AcquireScreen
from vmforensics.tui.screens.case import CaseScreen
from vmforensics.tui.screens.devices import DevicesScreen
from vmforensics.tui.screens.findings import FindingsScreen
from vmforensics.tui.screens.seal import SealScreen
from vmforensics.tui.state import Target

Lister = Callable[[list[str], Path | None], list[dict[str, Any]]]


@dataclass
class DevicesChanged(Message):
    devices: list[dict[str, Any]]


class VmfApp(App[None]):
    CSS_PATH = str(Path(__file__).with_name("vmf.tcss"))
    TITLE = "vmforensics"
    ENABLE_COMMAND_PALETTE = False
    MODES: ClassVar[dict[str, Any]] = {
        "case": CaseScreen,
        "devices": DevicesScreen,
        "acquire": AcquireScreen,
        "findings": FindingsScreen,
        "seal": SealScreen,
    }
    DEFAULT_MODE = "case"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (140, "-wide")]  # noqa: RUF012
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "switch_mode('case')", "Case"),
        Binding("f2", "switch_mode('devices')", "Devices"),
        Binding("f3", "switch_mode('acquire')", "Acquire"),
        Binding("f4", "switch_mode('findings')", "Findings"),
        Binding("f5", "switch_mode('seal')", "Seal"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        *,
        case_dir: Path | None = None,
        connect: list[str] | None = None,
        key_dir: Path | None = None,
        browse_root: Path | None = None,
        lister: Lister | None = None,
        poll_seconds: float = 2.0,
        examiner: str | None = None,
    ) -> None:
        super().__init__()
        self.case: Case | None = None
        self.case_dir_hint = case_dir
        self.examiner_hint = examiner
        self.connect: list[str] = list(connect or [])
        self.key_dir = key_dir
        self.browse_root = browse_root or Path(".")
        self.lister: Lister = lister or _default_lister
        self.watch_usb = lister is None
        self.poll_seconds = poll_seconds
        self.devices: list[dict[str, Any]] = []
        self.polls = 0
        self.target: Target | None = None
        self.acquiring = False
        self.quit_when_idle = False
        self.cancel_acquisition: Callable[[], None] | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()

    def on_mount(self) -> None:
        if self.case_dir_hint is not None and (self.case_dir_hint / "case.json").is_file():
            self.open_case(self.case_dir_hint, None, None, None, None)
        self.poll_devices()
        if self.watch_usb:
            from vmforensics.devices import watch_usbmux

            # a daemon thread, not a worker: waiting for the next event cannot be cut short
            threading.Thread(
                target=watch_usbmux,
                args=(self._wake.set, self._stop),
                name="vmf-usbmux",
                daemon=True,
            ).start()

    # -- the case ------------------------------------------------------------------
    def open_case(
        self,
        root: Path,
        case_id: str | None,
        examiner: str | None,
        exhibit: str | None,
        notes: str | None,
    ) -> bool:
        """Open or create; a refusal (not a case, unreadable) is a notification."""
        from vmforensics.errors import VmfError

        try:
            case = Case.open_or_create(
                root, case_id=case_id, examiner=examiner, exhibit=exhibit, notes=notes
            )
        except VmfError as exc:
            self.notify(str(exc), title="Case not opened", severity="error", timeout=8)
            return False
        except OSError as exc:
            self.notify(f"{root}: {exc.strerror or exc}", severity="error", timeout=8)
            return False
        self.case = case
        self.sub_title = f"case {case.data.get('case_id')}"
        self.call_later(self._refresh_screen)
        return True

    def _refresh_screen(self) -> None:
        from textual.css.query import NoMatches

        refresh = getattr(self.screen, "refresh_view", None)
        if callable(refresh):
            try:
                refresh()
            except NoMatches:  # not composed yet: its own mount shows the state
                pass

    def require_case(self) -> Case | None:
        if self.case is None:
            self.notify("Open or create a case first (F1).", severity="warning")
        return self.case

    async def action_quit(self) -> None:
        """Quitting mid-acquisition cancels it first, so the case records the interruption
        (incomplete source, "interrupted" event) before the program ends."""
        if self.acquiring and self.cancel_acquisition is not None and not self.quit_when_idle:
            self.quit_when_idle = True
            self.cancel_acquisition()
            self.notify("Cancelling the acquisition; the program ends when it has stopped.")
            return
        self.exit()

    # -- devices -------------------------------------------------------------------
    def add_target(self, spec: str) -> None:
        if spec not in self.connect:
            self.connect.append(spec)
        self._wake.set()

    @work(thread=True, group="poll", exclusive=True, exit_on_error=False)
    def poll_devices(self) -> None:
        """List devices every ``poll_seconds`` (once when 0); paused while acquiring so
        a probe never competes with a transfer on the same connection."""
        worker = get_current_worker()
        while not worker.is_cancelled:
            if not self.acquiring:
                try:
                    devices = self.lister(list(self.connect), self.key_dir)
                except Exception as exc:  # the list says so; the app goes on
                    devices = [{"serial": "-", "kind": "?", "error": f"listing failed: {exc}"}]
                self.post_message(DevicesChanged(devices))
            if self.poll_seconds <= 0:
                return
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def on_devices_changed(self, message: DevicesChanged) -> None:
        self.devices = message.devices
        self.polls += 1
        screen = self.screen
        if isinstance(screen, DevicesScreen):
            screen.show_devices()

    def _fatal_error(self) -> None:
        """The last line of defence, as in the CLI: one line, no traceback, unless
        VMF_DEBUG asks for it. What the pipeline wrote is already on disk."""
        import os

        if os.environ.get("VMF_DEBUG"):
            super()._fatal_error()
            return
        error = self._exception
        self.exit(
            return_code=1,
            message=f"vmforensics: internal error: {type(error).__name__}: {error} "
            "(set VMF_DEBUG=1 for a traceback)",
        )

    def on_unmount(self) -> None:
        self._stop.set()
        self._wake.set()


def _default_lister(connect: list[str], key_dir: Path | None) -> list[dict[str, Any]]:
    from vmforensics.devices import list_devices

    return list_devices(connect, key_dir)
