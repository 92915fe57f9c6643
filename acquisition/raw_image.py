"""A single file that is no container we know: a disk or partition image, a memory dump,
an unknown blob. It is never copied: the application carves it in place, read-only,
hashing it in the same pass, and stores only what it carves out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from acquisition.base import Entry, EntryKind, Problem, Source
from acquisition.errors import SourceUnavailable


class RawImageSource(Source):
    kind: ClassVar[str] = "raw-image"
    sequential: ClassVar[bool] = False

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.path = Path(location)

    @classmethod
    def probe(cls, path: Path) -> bool:
        return path.is_file()

    def open(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.read(1)
        except OSError as exc:
            raise SourceUnavailable(f"{self.location}: cannot read ({exc.strerror or exc})")

    def describe(self) -> dict[str, Any]:
        st = os.stat(self.path)
        return {"size": st.st_size, "name": self.path.name}

    def entries(self) -> Iterator[Entry | Problem]:
        st = os.stat(self.path)
        yield Entry(
            self.path.name,
            EntryKind.FILE,
            size=st.st_size,
            times={"mtime": st.st_mtime},
            mode=st.st_mode,
            meta={"in_place": str(self.path.resolve())},
            opener=lambda: open(self.path, "rb"),
        )
