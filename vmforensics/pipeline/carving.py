"""Carving every stored file for audio, on both cores.

Workers get file paths, not bytes (each maps its file), and return picklable hits; the
same bytes stored under several evidence paths are carved once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from parsers.audio import carve as audio_carve

WORKERS = max(1, min(2, os.cpu_count() or 1))


def _carve_one(path: str) -> tuple[str, list[Any], str | None]:
    try:
        return path, list(audio_carve.carve_file(path)), None
    except Exception as exc:  # a carver bug must not end the run
        return path, [], f"{type(exc).__name__}: {exc}"


Outcome = tuple[str, list[Any], str | None]


def carve_paths(paths: Iterable[str], *, workers: int = WORKERS) -> Iterator[Outcome]:
    paths = list(paths)
    if workers <= 1 or len(paths) < 4:
        yield from map(_carve_one, paths)
        return
    done = 0
    try:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for outcome in pool.map(_carve_one, paths, chunksize=8):
                yield outcome
                done += 1
    except BrokenProcessPool:
        # a worker died (a decoder crashing on hostile audio, the OOM killer): the files
        # not answered yet are carved one per process, so only the culprit is lost
        for path in paths[done:]:
            yield carve_isolated(path)


def carve_isolated(path: str) -> Outcome:
    try:
        with ProcessPoolExecutor(max_workers=1) as pool:
            return pool.submit(_carve_one, path).result()
    except BrokenProcessPool:
        return path, [], "carver process died (crashed or was killed) on this file"
