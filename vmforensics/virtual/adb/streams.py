"""Turning code that writes into a file object into a bounded stream of chunks.

tarfile and zlib want a file to write to; a device service wants to hand out chunks as the
client acknowledges them. A writer thread and a small queue join the two without holding a
whole archive in memory.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO, cast

_CHUNK = 64 * 1024
_END = object()


class _Abandoned(Exception):
    """The reader went away; the writer stops."""


class _QueueWriter:
    def __init__(self, q: queue.Queue[object], stop: threading.Event) -> None:
        self._q = q
        self._stop = stop
        self._buf = bytearray()

    def write(self, data: bytes) -> int:
        self._buf += data
        while len(self._buf) >= _CHUNK:
            self._put(bytes(self._buf[:_CHUNK]))
            del self._buf[:_CHUNK]
        return len(data)

    def flush(self) -> None:
        if self._buf:
            self._put(bytes(self._buf))
            self._buf.clear()

    def _put(self, item: object) -> None:
        while True:
            if self._stop.is_set():
                raise _Abandoned
            try:
                self._q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def tell(self) -> int:  # tarfile asks in stream mode only for diagnostics
        return 0


def stream_writer(produce: Callable[[BinaryIO], None]) -> Iterator[bytes]:
    """Run ``produce(fileobj)`` in a thread and yield what it writes, 64 KiB at a time."""
    q: queue.Queue[object] = queue.Queue(maxsize=8)
    stop = threading.Event()
    writer = _QueueWriter(q, stop)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            produce(cast(BinaryIO, writer))
            writer.flush()
        except _Abandoned:
            return
        except BaseException as exc:  # reported to the reader below
            failure.append(exc)
        try:
            writer._put(_END)
        except _Abandoned:
            pass

    thread = threading.Thread(target=run, name="vmf-adb-writer", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                break
            yield cast(bytes, item)
        if failure:
            raise failure[0]
    finally:
        stop.set()
        thread.join(timeout=5)
