"""Small helpers shared by tests (import as ``vmf_testutil``)."""

from __future__ import annotations

import json
from pathlib import Path


def read_lines(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def tree_hashes(root: Path) -> dict[str, tuple[int, str]]:
    """Every file under root (or root itself): relative path → (size, sha256)."""
    import hashlib

    root = Path(root)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    out = {}
    for p in files:
        data = p.read_bytes()
        out[str(p.relative_to(root)) if p != root else p.name] = (
            len(data),
            hashlib.sha256(data).hexdigest(),
        )
    return out
