"""Raw images (disk or partition images, memory dumps, unknown blobs), carved in place.

The image is never copied. The main process reads it once, in order, hashing every byte
(SHA-256; MD5 and SHA-1 with ``--legacy-hashes``); each span it has just read is handed
to a worker that maps the same, now cached, pages and carves them, so both cores carve
while the file is read from disk once. Spans overlap nothing: a worker only reports
objects that *start* in its span (they may run past it), and an object reported by the
previous span swallows any hit found inside it.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from chain_of_custody.hashing import MultiHasher
from parsers.audio import carve as audio_carve

SPAN = 64 << 20
READ = 8 << 20


@dataclass
class RawResult:
    hits: list[Any] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)
    size: int = 0
    failures: list[tuple[int, int, str]] = field(default_factory=list)  # (start, stop, why)


def _carve_span(path: str, start: int, stop: int) -> tuple[int, int, list[Any], str | None]:
    try:
        return start, stop, list(audio_carve.carve_file(path, start=start, stop=stop)), None
    except Exception as exc:
        return start, stop, [], f"{type(exc).__name__}: {exc}"


def _hash_span(f: Any, start: int, stop: int, hasher: MultiHasher) -> None:
    gran = mmap.ALLOCATIONGRANULARITY
    base = (start // gran) * gran
    with (
        mmap.mmap(f.fileno(), stop - base, offset=base, access=mmap.ACCESS_READ) as mm,
        memoryview(mm) as view,
    ):
        for pos in range(start - base, stop - base, READ):
            with view[pos : min(pos + READ, stop - base)] as piece:
                hasher.update(piece)  # no copy: hashlib reads the mapped pages


def _outcome(
    path: str, start: int, stop: int, fut: Future[tuple[int, int, list[Any], str | None]] | None
) -> tuple[int, int, list[Any], str | None]:
    """A span's result; when a worker died (a decoder crash, the OOM killer) the spans
    it took down with it are carved again one per process, so only the culprit is lost."""
    if fut is not None:
        try:
            return fut.result()
        except BrokenProcessPool:
            pass
    try:
        with ProcessPoolExecutor(max_workers=1, initializer=os.nice, initargs=(10,)) as solo:
            return solo.submit(_carve_span, path, start, stop).result()
    except BrokenProcessPool:
        return start, stop, [], "carver process died (crashed or was killed) on this span"


def carve_image(
    path: str,
    algorithms: tuple[str, ...],
    *,
    workers: int = 2,
    on_span: Callable[[int], None] | None = None,
) -> RawResult:
    result = RawResult()
    hasher = MultiHasher(algorithms)
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)  # st_size is 0 for a block device
        result.size = size
        futures: list[tuple[int, int, Future[tuple[int, int, list[Any], str | None]] | None]]
        futures = []
        # carvers yield to the hashing pass, which sets the pace
        with ProcessPoolExecutor(
            max_workers=max(1, workers), initializer=os.nice, initargs=(10,)
        ) as pool:
            for start in range(0, size, SPAN):
                stop = min(size, start + SPAN)
                _hash_span(f, start, stop, hasher)
                try:
                    futures.append((start, stop, pool.submit(_carve_span, path, start, stop)))
                except BrokenProcessPool:  # the hashing pass goes on; retried below
                    futures.append((start, stop, None))
                if on_span:
                    on_span(stop - start)
            outcomes = [_outcome(path, start, stop, fut) for start, stop, fut in futures]
    result.digests = hasher.hexdigests()
    reach = 0
    for start, stop, hits, failure in sorted(outcomes, key=lambda o: o[0]):
        if failure:
            result.failures.append((start, stop, failure))
        for hit in sorted(hits, key=lambda h: h.offset):
            if hit.offset < reach:
                continue  # inside an object the previous span already reported whole
            result.hits.append(hit)
            reach = max(reach, hit.offset + hit.length)
    return result
