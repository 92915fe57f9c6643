"""Ingest keeps every byte a failing stream delivered before it failed (issue: a
buffered reader drops what it gathered in a read() when a later raw read raises)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vmf_testutil import read_lines

from acquisition.base import Entry, EntryKind, Problem, Source
from vmforensics.case import Case
from vmforensics.pipeline.ingest import ingest
from vmforensics.progress import Progress

GOOD = 300_000  # bytes the medium gives before it fails


class FailingMedium(io.RawIOBase):
    """A file on a failing disk: small reads succeed, then every read is EIO (or another
    exception a source library may raise)."""

    def __init__(self, data: bytes, exc: BaseException) -> None:
        self._data, self._pos, self._exc = data, 0, exc

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._pos >= GOOD:
            raise self._exc
        n = min(len(buffer), 4096, GOOD - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


class OneFileSource(Source):
    kind = "folder"

    def __init__(self, data: bytes, exc: BaseException) -> None:
        super().__init__("test")
        self._data, self._exc = data, exc

    def describe(self) -> dict[str, Any]:
        return {}

    def entries(self) -> Iterator[Entry | Problem]:
        yield Entry(
            "sdcard/vm.amr",
            EntryKind.FILE,
            size=len(self._data),
            # what open(path, "rb") returns: a BufferedReader over the raw file
            opener=lambda: io.BufferedReader(FailingMedium(self._data, self._exc)),  # type: ignore[arg-type,return-value]
        )
        yield Entry("sdcard/after.txt", EntryKind.FILE, size=2, opener=lambda: io.BytesIO(b"ok"))


@pytest.mark.parametrize(
    "exc", [OSError(5, "Input/output error"), RuntimeError("library bug mid-stream")]
)
def test_prefix_before_a_read_error_is_kept(tmp_path: Path, exc: BaseException) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    case = Case.open_or_create(tmp_path / "case", case_id="c", examiner="e")
    got = ingest(case, OneFileSource(data, exc), "S1", tmp_path / "entries.jsonl", Progress())
    item = got.items["sdcard/vm.amr"]
    assert item.size == GOOD
    assert item.sha256 == hashlib.sha256(data[:GOOD]).hexdigest()
    assert Path(item.local_path).read_bytes() == data[:GOOD]
    err = next(x for x in got.lines if x["evidence_path"] == "sdcard/vm.amr")
    assert err["stage"] == "acquire" and err["offset"] == GOOD
    assert "sdcard/after.txt" in got.items  # the run goes on
    rows = read_lines(tmp_path / "entries.jsonl")
    assert [r["stored_size"] for r in rows] == [GOOD, 2]
