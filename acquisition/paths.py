"""Turning names that sources give us into safe logical evidence paths.

We never write by logical path (the evidence store is content-addressed), so a hostile
name cannot escape the case folder; the danger is a misleading path. A hostile name is
kept, made unambiguous (``..`` and NUL escaped, leading ``/`` dropped) and reported, so
nothing is lost and the examiner sees exactly what the source claimed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SafePath:
    path: str
    issues: tuple[str, ...] = ()


def sanitise(raw: str | bytes) -> SafePath:
    """Normalise ``raw`` to a POSIX path with no leading '/', no '.', no '..', no NUL."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="surrogateescape")
    issues: list[str] = []
    if "\x00" in raw:
        issues.append("NUL byte in name")
        raw = raw.replace("\x00", "%00")
    if raw.startswith("/"):
        issues.append("absolute path")
    raw = raw.replace("\\", "/") if "\\" in raw and "/" not in raw else raw
    parts: list[str] = []
    for part in raw.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if "'..' component" not in issues:
                issues.append("'..' component")
            part = "%2E%2E"
        parts.append(part)
    try:
        path = (
            "/".join(parts)
            .encode("utf-8", errors="surrogateescape")
            .decode("utf-8", errors="backslashreplace")
        )
    except UnicodeError:  # pragma: no cover - defensive
        path = "/".join(parts)
    return SafePath(path, tuple(issues))


def join(*parts: str) -> str:
    """Join logical path parts, dropping empty ones."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))
