"""What every image builder shares: deterministic bytes and the versions that wrote them."""

from __future__ import annotations

import hashlib
import platform
import sqlite3

import Crypto

from builders import audio


def versions() -> dict[str, str]:
    """Encoder and writer versions; with the same ones a rebuild is byte-identical."""
    return {
        **audio.versions(),
        "sqlite3": sqlite3.sqlite_version,
        "pycryptodome": Crypto.__version__,
        "python": platform.python_version(),
    }


def det_bytes(label: str, n: int) -> bytes:
    """``n`` bytes that depend only on ``label`` (keys, salts, filler)."""
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}/{counter}".encode()).digest()
        counter += 1
    return out[:n]
