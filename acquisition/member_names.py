"""Names inside containers (tar, zip, folder, ``.ab``) → unique evidence paths.

Every container source meets the same three hazards: hostile names (``../``, absolute,
NUL), several spellings of one Android location, and two members with the same name.
They are handled once here so the sources agree: the name is sanitised, optionally mapped
to its canonical Android spelling, and made unique; the examiner gets one ``Problem`` per
oddity and the name as the container gave it in ``origin``.

Duplicates: the first member keeps the path, later ones get ``~2``, ``~3``... appended
and a Problem naming both. A repeated *directory* is not an object of its own (tar
archives repeat directories when appended to), so it is reported as ``skip`` instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from acquisition.base import Problem
from acquisition.paths import sanitise

MAX_DUPLICATE_SUFFIX = 10_000


def printable(raw: str | bytes) -> str:
    """A name as text that survives JSON: undecodable bytes become ``\\xNN``."""
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="backslashreplace")
    return raw.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")


@dataclass
class Named:
    path: str
    origin: str | None
    problems: list[Problem] = field(default_factory=list)
    skip: bool = False  # a repeated directory: nothing new to list


class MemberNamer:
    """Stateful over one container: it remembers every path handed out (as 8-byte digests,
    so a listing of millions of members stays small)."""

    def __init__(self, normalise: Callable[[str], str | None] | None = None) -> None:
        self.normalise = normalise
        self._seen: set[bytes] = set()
        self.last_path = ""

    def peek(self, raw: str | bytes) -> str:
        """The path ``raw`` maps to, without reserving it (for hard-link targets)."""
        path = sanitise(raw).path
        if self.normalise is not None:
            path = self.normalise(path) or path
        return path

    def _key(self, path: str) -> bytes:
        return hashlib.blake2b(path.encode("utf-8", "surrogatepass"), digest_size=8).digest()

    def name(
        self,
        raw: str | bytes,
        *,
        is_dir: bool = False,
        offset: int | None = None,
        where: str = "",
        remap: Callable[[str], str] | None = None,
    ) -> Named:
        """Name one member; ``where`` locates it in messages (e.g. "tar offset 1536").

        ``remap`` rewrites the sanitised name first (the ``.ab`` token mapping).
        """
        shown = printable(raw)
        safe = sanitise(raw)
        problems = [
            Problem(
                safe.path,
                "acquire",
                f"hostile member name {shown!r}: {issue}; listed as {safe.path!r}"
                + (f" ({where})" if where else ""),
                offset,
                shown,
            )
            for issue in safe.issues
        ]
        path = remap(safe.path) if remap is not None else safe.path
        if self.normalise is not None:
            mapped = self.normalise(path)
            if mapped is not None:
                path = mapped
        if not path:
            if is_dir:
                return Named("", None, problems, skip=True)  # the archive's own root
            path = "%EMPTY%"
            problems.append(
                Problem(path, "acquire", f"member with an empty name {shown!r}", offset, shown)
            )
        key = self._key(path)
        if key in self._seen:
            if is_dir:
                return Named(path, None, problems, skip=True)
            first = path
            for n in range(2, MAX_DUPLICATE_SUFFIX + 2):
                candidate = f"{first}~{n}"
                key = self._key(candidate)
                if key not in self._seen:
                    path = candidate
                    break
            problems.append(
                Problem(
                    path,
                    "acquire",
                    f"duplicate member name {shown!r}: an earlier member already has path "
                    f"{first!r}; this one is listed as {path!r}" + (f" ({where})" if where else ""),
                    offset,
                    shown,
                )
            )
        self._seen.add(key)
        self.last_path = path
        # Harmless spellings ("./x", "dir/") are not worth an origin; anything changed is.
        origin = shown if safe.issues or path != safe.path else None
        return Named(path, origin, problems)
