"""Pipeline progress posted to the UI thread, with a cooperative cancel.

The pipeline runs in a worker thread; Textual widgets may only be touched from the UI
thread, so every call becomes a message. Cancelling raises ``KeyboardInterrupt`` at the
next progress call: the pipeline already turns that into an incomplete source and an
"interrupted" custody event, exactly as Ctrl-C does on the command line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message

from vmforensics.progress import Progress

# at most this many progress messages per second reach the UI
_MIN_INTERVAL_S = 0.1


@dataclass
class ProgressUpdate(Message):
    """One stage's state: ``done`` of ``total`` items, plus device bytes when known."""

    label: str
    total: int | None
    done: int
    device_bytes: int | None = None
    detail: str | None = None


@dataclass
class ProgressNote(Message):
    text: str


class TuiProgress(Progress):
    def __init__(self, post: Callable[[Message], object]) -> None:
        self._post = post
        self._cancel = threading.Event()
        self._label = ""
        self._total: int | None = None
        self._done = 0
        self._device_bytes: int | None = None
        self._detail: str | None = None
        self._last = 0.0
        self.worker: threading.Thread | None = None

    # -- cancellation ---------------------------------------------------------------
    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise KeyboardInterrupt("cancelled by the user")

    # -- the pipeline's interface ---------------------------------------------------
    def stage(self, label: str, total: int | None = None) -> None:
        self.check()
        self._label, self._total, self._done = label, total, 0
        self._flush(force=True)

    def advance(self, n: int = 1) -> None:
        self.check()
        self._done += n
        self._flush()

    def note(self, text: str) -> None:
        self._post(ProgressNote(text))

    # -- the device's own progress (called from the acquisition threads) ------------
    def device(self, stage: str, amount: int | float | None, extra: object = None) -> None:
        """Android calls ``(label, received_bytes, total)``, iOS ``(stage, percent,
        detail)``; both become the device line of the progress display. Cancel is only
        raised on the pipeline's own thread: iOS reports from its asyncio loop thread,
        where an exception would kill the loop instead of stopping the pipeline."""
        if threading.current_thread() is self.worker:
            self.check()
        if isinstance(amount, float):  # iOS: a percentage
            self._detail = f"{stage} {amount:.0f}%"
        elif isinstance(extra, str) or (extra is None and not isinstance(amount, int)):
            self._detail = f"{stage}: {extra}" if extra else stage
        else:
            self._detail = stage
        if isinstance(amount, int) and not isinstance(extra, str):
            self._device_bytes = amount
        self._flush()

    def _flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < _MIN_INTERVAL_S:
            return
        self._last = now
        self._post(
            ProgressUpdate(self._label, self._total, self._done, self._device_bytes, self._detail)
        )

    def close(self) -> None:
        self._flush(force=True)
