"""Acquisition: profile, masked password, start; per-stage progress; the commands sent;
what the phone needs from the person holding it; cancel.

The pipeline runs in a worker thread. Cancel sets a flag that the progress object turns
into ``KeyboardInterrupt`` at the next progress call, which the pipeline records as an
incomplete source with an "interrupted" custody event.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import (
    Button,
    Input,
    Label,
    ProgressBar,
    RichLog,
    Select,
    Static,
)

from vmforensics.tui.progress import ProgressNote, ProgressUpdate, TuiProgress
from vmforensics.tui.screens.base import VmfScreen
from vmforensics.tui.state import Target


@dataclass
class CommandSent(Message):
    text: str


@dataclass
class PromptShown(Message):
    text: str


@dataclass
class AcquisitionDone(Message):
    ok: bool
    cancelled: bool
    message: str
    incomplete: bool = False


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


class AcquireScreen(VmfScreen):
    TITLE_TEXT = "Acquisition"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "start", "Start", priority=True),
        Binding("ctrl+x", "cancel", "Cancel", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.progress: TuiProgress | None = None
        self.running = False
        self.last_result: AcquisitionDone | None = None
        self._stage_started = 0.0
        self._stage_label = ""
        self._bytes_started = 0.0

    def body(self) -> ComposeResult:
        with Vertical(id="acq-setup"):
            yield Static("no source selected (F2 Devices)", id="acq-target")
            with Horizontal(classes="row"):
                yield Label("Profile", classes="field-label")
                yield Select(
                    [
                        ("voicemail (voicemail apps only)", "voicemail"),
                        ("full (every app)", "full"),
                    ],
                    value="voicemail",
                    allow_blank=False,
                    id="profile",
                    compact=True,
                )
            with Horizontal(classes="row"):
                yield Label("Password", classes="field-label")
                yield Input(
                    placeholder="backup password (if encrypted)",
                    password=True,
                    id="password",
                    compact=True,
                )
            with Horizontal(classes="row"):
                yield Button("Start", id="start", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", variant="error", disabled=True, compact=True)
                yield Static("idle", id="acq-state")
        yield Static("", id="acq-prompt")
        with Vertical(id="acq-progress"):
            yield Static("", id="stage-label")
            yield ProgressBar(id="stage-bar", show_eta=False)
            yield Static("", id="device-line")
        yield Label("Commands sent to the device", classes="section")
        yield RichLog(id="acq-log", markup=False, wrap=False, max_lines=2000)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#acq-prompt", Static).display = False
        self.query_one("#stage-bar", ProgressBar).display = False
        self.show_target()

    def refresh_view(self) -> None:
        self.show_target()

    def show_target(self) -> None:
        target = self.vapp.target
        text = f"Source: {target.label()}" if target else "no source selected (F2 Devices)"
        self.query_one("#acq-target", Static).update(text)

    # -- start / cancel --------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()
        elif event.button.id == "cancel":
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "password":
            self.action_start()

    def action_start(self) -> None:
        if self.running:
            self.notify("An acquisition is already running.", severity="warning")
            return
        case = self.vapp.require_case()
        target = self.vapp.target
        if case is None:
            return
        if target is None:
            self.notify("Choose a device or an offline source first (F2).", severity="warning")
            return
        password = self.query_one("#password", Input).value or None
        if target.encrypted and password is None:
            self.notify(
                "This source is encrypted: type its backup password first.", severity="error"
            )
            self.query_one("#password", Input).focus()
            return
        profile = str(self.query_one("#profile", Select).value)
        self.query_one("#password", Input).value = ""  # the secret does not linger on screen
        self.progress = TuiProgress(self.post_message)
        self.vapp.cancel_acquisition = self.progress.cancel
        self.running = True
        self.vapp.acquiring = True
        self.last_result = None
        self.query_one("#acq-log", RichLog).clear()
        self.query_one("#acq-prompt", Static).display = False
        self.query_one("#start", Button).disabled = True
        self.query_one("#cancel", Button).disabled = False
        self.query_one("#acq-state", Static).update("RUNNING")
        self.query_one("#stage-bar", ProgressBar).display = True
        self._bytes_started = time.monotonic()
        self.run_acquisition(target, profile, password, self.progress)

    def action_cancel(self) -> None:
        if not self.running or self.progress is None:
            self.notify("Nothing is running.", severity="warning")
            return
        self.progress.cancel()
        self.query_one("#acq-state", Static).update("CANCELLING…")

    @work(thread=True, group="acquire", exclusive=True, exit_on_error=False)
    def run_acquisition(
        self, target: Target, profile: str, password: str | None, progress: TuiProgress
    ) -> None:
        progress.worker = threading.current_thread()
        try:
            done = self._acquire(target, profile, password, progress)
        except Exception as exc:  # never a traceback: the screen shows it
            done = AcquisitionDone(False, False, f"{type(exc).__name__}: {exc}")
        progress.close()
        self.post_message(done)

    def _acquire(
        self, target: Target, profile: str, password: str | None, progress: TuiProgress
    ) -> AcquisitionDone:
        from vmforensics.errors import EXIT_OK, VmfError
        from vmforensics.pipeline import ScanOptions, acquire_one, scan, write_case_artifacts

        case = self.vapp.case
        assert case is not None
        opts = ScanOptions(password=password)
        try:
            if target.offline:
                results = scan(case, [target.spec], opts, progress)
            else:
                from vmforensics.devices import build_device_source

                source = build_device_source(
                    target.spec,
                    case,
                    profile=profile,
                    password=password,
                    on_command=lambda text: self.post_message(CommandSent(text)),
                    on_prompt=lambda text: self.post_message(PromptShown(text)),
                    on_progress=progress.device,
                    key_dir=self.vapp.key_dir,
                )
                case.event(
                    "acquisition-started",
                    {
                        "device": target.spec,
                        "profile": profile,
                        "password_provided": password is not None,
                    },
                )
                results = [acquire_one(case, source, target.spec, opts, progress)]
                write_case_artifacts(case)
        except KeyboardInterrupt:
            write_case_artifacts(case)
            return AcquisitionDone(
                False,
                True,
                "CANCELLED: the acquisition is marked INCOMPLETE in the case; "
                "what was received is kept",
                incomplete=True,
            )
        except VmfError as exc:
            return AcquisitionDone(False, False, str(exc))
        finally:
            case.clean_tmp()
        result = results[0]
        if result.exit_code != EXIT_OK:
            return AcquisitionDone(False, False, result.message or "the source could not be opened")
        src = next((s for s in case.sources() if s["id"] == result.sid), {})
        counts = ", ".join(f"{v} {k}" for k, v in sorted(result.counts.items())) or "nothing"
        if not src.get("complete", True):
            return AcquisitionDone(
                False,
                False,
                f"{result.sid}: ACQUISITION INCOMPLETE (the device went away or refused part "
                f"of the transfer); kept: {counts}",
                incomplete=True,
            )
        return AcquisitionDone(True, False, f"{result.sid} done: {counts}")

    # -- messages from the worker ----------------------------------------------------
    def on_command_sent(self, message: CommandSent) -> None:
        self.query_one("#acq-log", RichLog).write(f"> {message.text}")

    def on_prompt_shown(self, message: PromptShown) -> None:
        box = self.query_one("#acq-prompt", Static)
        box.update(f"ON THE DEVICE: {message.text}")
        box.display = True
        self.query_one("#acq-log", RichLog).write(f"!! {message.text}")

    def on_progress_note(self, message: ProgressNote) -> None:
        self.query_one("#acq-log", RichLog).write(message.text)

    def on_progress_update(self, message: ProgressUpdate) -> None:
        now = time.monotonic()
        if message.label != self._stage_label:
            self._stage_label, self._stage_started = message.label, now
        bar = self.query_one("#stage-bar", ProgressBar)
        bar.update(total=message.total, progress=message.done)
        text = f"{message.label}: {message.done}" + (
            f" of {message.total} files" if message.total else " files"
        )
        elapsed = now - self._stage_started
        if message.total and message.done and elapsed > 0:
            rate = message.done / elapsed
            eta = (message.total - message.done) / rate if rate else 0
            text += f"  {rate:.1f}/s  ETA {eta:.0f}s"
        self.query_one("#stage-label", Static).update(text)
        line = ""
        if message.device_bytes is not None:
            spent = max(now - self._bytes_started, 1e-6)
            line = (
                f"device: {human_bytes(message.device_bytes)} received, "
                f"{human_bytes(message.device_bytes / spent)}/s"
            )
        if message.detail:
            line = f"{line}  [{message.detail}]" if line else f"device: {message.detail}"
        self.query_one("#device-line", Static).update(line)

    def on_acquisition_done(self, message: AcquisitionDone) -> None:
        self.running = False
        self.vapp.acquiring = False
        self.vapp.cancel_acquisition = None
        self.last_result = message
        if self.vapp.quit_when_idle:
            self.app.exit()
            return
        self.query_one("#start", Button).disabled = False
        self.query_one("#cancel", Button).disabled = True
        state = "DONE" if message.ok else ("CANCELLED" if message.cancelled else "STOPPED")
        self.query_one("#acq-state", Static).update(state)
        bar = self.query_one("#stage-bar", ProgressBar)
        if message.ok:
            bar.update(total=1, progress=1)
        else:
            bar.display = False  # no bar left spinning over a stopped run
        self.query_one("#stage-label", Static).update(f"{state}: {self._stage_label}")
        self.query_one("#acq-prompt", Static).display = False
        self.query_one("#acq-log", RichLog).write(message.message)
        self.notify(
            message.message,
            title=state,
            severity="information" if message.ok else "error",
            timeout=10,
        )
