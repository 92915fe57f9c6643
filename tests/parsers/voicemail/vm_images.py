"""Shared helpers for parser tests: write a builder's file map into a folder."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO / ".." / "shared"
sys.path.insert(0, str(REPO / "testdata" / "images"))


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for path, data in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


def builder(name: str):
    """The image builder module ``testdata/images/builders/<name>.py``."""
    import importlib

    return importlib.import_module(f"builders.{name}")
