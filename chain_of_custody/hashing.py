"""Several digests in one read pass, so evidence is read once however many we keep."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

ALL = ("sha256", "sha1", "md5")
CHUNK = 1 << 20


class MultiHasher:
    def __init__(self, algorithms: Iterable[str] = ALL) -> None:
        self._h = {name: hashlib.new(name) for name in algorithms}
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        for h in self._h.values():
            h.update(data)
        self.size += len(data)

    def hexdigests(self) -> dict[str, str]:
        return {name: h.hexdigest() for name, h in self._h.items()}


def hash_stream(stream: BinaryIO, algorithms: Iterable[str] = ALL) -> tuple[dict[str, str], int]:
    hasher = MultiHasher(algorithms)
    while chunk := stream.read(CHUNK):
        hasher.update(chunk)
    return hasher.hexdigests(), hasher.size


def hash_file(path: str | Path, algorithms: Iterable[str] = ALL) -> tuple[dict[str, str], int]:
    with open(path, "rb") as f:
        return hash_stream(f, algorithms)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
