"""Shared helpers for the protection tests: real audio from PyAV, a folder Context."""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import sys
from functools import cache
from pathlib import Path

from parsers.base import Item

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "testdata" / "images"))

from builders import audio, hidden  # noqa: E402, F401

FORMATS = {
    "amr": {"fmt": "amr", "codec": "libopencore_amrnb", "bit_rate": 12200},
    "mp3": {"fmt": "mp3", "codec": "libmp3lame", "bit_rate": 32000},
    "wav": {"fmt": "wav", "codec": "pcm_s16le"},
    "opus": {"fmt": "ogg", "codec": "libopus", "bit_rate": 16000},
    "m4a": {"fmt": "ipod", "codec": "aac", "bit_rate": 32000},
}


@cache
def sample(kind: str, seconds: float = 2.0, seed: int = 1) -> bytes:
    """Real audio of ``kind`` (amr, mp3, wav, opus, m4a), encoded by PyAV."""
    return audio.encode(audio.voice_pcm(seconds, seed), **FORMATS[kind])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FolderContext:
    """The application's Context over a folder: evidence path = path relative to it."""

    source_kind = "folder"

    def __init__(self, root: Path, scratch_root: Path) -> None:
        self.root = Path(root)
        self.scratch_root = Path(scratch_root)
        self._n = itertools.count()
        self.items = {}
        for p in sorted(self.root.rglob("*")):
            if p.is_file():
                rel = p.relative_to(self.root).as_posix()
                data = p.read_bytes()
                self.items[rel] = Item(rel, p, len(data), sha(data))

    def get(self, path: str) -> Item | None:
        return self.items.get(path)

    def glob(self, pattern: str) -> list[Item]:
        return [self.items[k] for k in sorted(self.items) if fnmatch.fnmatch(k, pattern)]

    def scratch(self) -> Path:
        d = self.scratch_root / f"s{next(self._n)}"
        d.mkdir(parents=True)
        return d


def make_ctx(tmp_path: Path, files: dict[str, bytes]) -> FolderContext:
    root = tmp_path / "src"
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    root.mkdir(parents=True, exist_ok=True)
    return FolderContext(root, tmp_path / "scratch")


def run(tmp_path: Path, files: dict[str, bytes]):
    """analyse() over these files; records as a list."""
    from parsers.protection import analyse

    return list(analyse(make_ctx(tmp_path, files)))


def audio_records(records, path: str | None = None):
    from parsers.records import AudioRecord

    return [r for r in records if isinstance(r, AudioRecord) and (path is None or r.path == path)]
