"""Safe payload names: ``[A-Za-z0-9._-]`` and ``/`` only, unique even case-insensitively.

BagIt's percent-encoding of ``%``, CR and LF is implemented differently by every tool
(bagit-python issue #157), and coreutils escapes names with ``\\``; a name built from this
alphabet means the same thing to bagit-python, ``sha256sum -c`` and every file system. The
original name lives in ``file-map.tsv``.
"""

from __future__ import annotations

import re
import unicodedata

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_COMPONENT = 120


def safe_component(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    out = _UNSAFE.sub("_", ascii_only).strip()
    if out in ("", ".", ".."):
        out = "_"
    if out.startswith("."):
        out = "_" + out[1:]
    if len(out) > MAX_COMPONENT:
        _stem, dot, ext = out.rpartition(".")
        keep = ext if dot and len(ext) <= 10 else ""
        out = out[: MAX_COMPONENT - len(keep) - 1] + ("." + keep if keep else "")
    return out


class SafeNamer:
    """Hands out unique safe relative paths; call in a stable order for stable names."""

    def __init__(self) -> None:
        self._files: set[str] = set()
        self._dirs: set[str] = set()

    def name(self, path: str, *, prefix: str = "") -> str:
        parts = [safe_component(p) for p in path.split("/") if p not in ("",)] or ["_"]
        base = "/".join(parts)
        candidate = base
        n = 1
        while self._taken(prefix + candidate):
            n += 1
            head, _, last = base.rpartition("/")
            stem, dot, ext = last.rpartition(".")
            last = f"{stem}_{n}.{ext}" if dot and stem else f"{last}_{n}"
            candidate = f"{head}/{last}" if head else last
        full = prefix + candidate
        self._files.add(full.lower())
        segs = full.lower().split("/")
        for i in range(1, len(segs)):
            self._dirs.add("/".join(segs[:i]))
        return full

    def _taken(self, full: str) -> bool:
        low = full.lower()
        if low in self._files or low in self._dirs:
            return True
        segs = low.split("/")
        return any("/".join(segs[:i]) in self._files for i in range(1, len(segs)))
