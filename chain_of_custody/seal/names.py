"""Safe payload names: ``[A-Za-z0-9._-]`` and ``/`` only, unique even case-insensitively.

BagIt's percent-encoding of ``%``, CR and LF is implemented differently by every tool
(bagit-python issue #157), and coreutils escapes names with ``\\``; a name built from this
alphabet means the same thing to bagit-python, ``sha256sum -c`` and every file system. The
original name lives in ``file-map.tsv``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_COMPONENT = 120
MAX_SUFFIX = 1_000_000


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
        parts = [safe_component(p) for p in path.split("/") if p] or ["_"]
        # A folder component may not be a name already handed out to a file ...
        for i in range(len(parts) - 1):

            def taken(c: str, head: list[str] = parts[:i]) -> bool:
                return self._key(prefix, head, c) in self._files

            parts[i] = self._free(parts[i], taken)
        # ... and the file itself may be neither a used file nor a used folder.
        parts[-1] = self._free(
            parts[-1],
            lambda c: (
                self._key(prefix, parts[:-1], c) in self._files
                or self._key(prefix, parts[:-1], c) in self._dirs
            ),
        )
        full = prefix + "/".join(parts)
        self._files.add(full.lower())
        segs = full.lower().split("/")
        for i in range(1, len(segs)):
            self._dirs.add("/".join(segs[:i]))
        return full

    @staticmethod
    def _key(prefix: str, head: list[str], last: str) -> str:
        return (prefix + "/".join([*head, last])).lower()

    @staticmethod
    def _free(component: str, taken: Callable[[str], bool]) -> str:
        candidate = component
        for n in range(2, MAX_SUFFIX):
            if not taken(candidate):
                return candidate
            stem, dot, ext = component.rpartition(".")
            candidate = f"{stem}_{n}.{ext}" if dot and stem else f"{component}_{n}"
        raise ValueError(f"no free name for {component!r}")
