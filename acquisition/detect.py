"""Picking the source for a path by what it contains, never by the name the user typed.

The probes run from the most specific to the least: an iOS backup folder before a plain
folder, archives by magic, and any other single file is a raw image.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from acquisition.base import Source
from acquisition.errors import NotRecognised, SourceUnavailable

# (module, class) in probe order; the one place source kinds are listed.
_SOURCES: tuple[tuple[str, str], ...] = (
    ("acquisition.ios_backup.source", "IosBackupSource"),
    ("acquisition.android_backup", "AndroidBackupSource"),
    ("acquisition.tarball", "TarSource"),
    ("acquisition.ziparchive", "ZipSource"),
    ("acquisition.folder", "FolderSource"),
    ("acquisition.raw_image", "RawImageSource"),
)


def source_classes() -> list[type[Source]]:
    out = []
    for module_name, class_name in _SOURCES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # a source kind not built into this installation
            raise
        out.append(getattr(module, class_name))
    return out


def open_source(
    location: str, *, password: str | None = None, workdir: Path | None = None
) -> Source:
    """The right (unopened) Source for ``location``; raise when nothing can read it."""
    path = Path(location)
    try:
        path.stat()
    except FileNotFoundError:
        raise SourceUnavailable(f"{location}: no such file or folder") from None
    except OSError as exc:
        raise SourceUnavailable(f"{location}: cannot be read ({exc.strerror or exc})") from None
    for cls in source_classes():
        if cls.probe(path):
            return _construct(cls, location, password, workdir)
    raise NotRecognised(f"{location}: not a file or folder vmforensics can read")


def _construct(
    cls: type[Source], location: str, password: str | None, workdir: Path | None
) -> Source:
    kwargs: dict[str, Any] = {}
    params = cls.__init__.__code__.co_varnames
    if "password" in params:
        kwargs["password"] = password
    if "workdir" in params:
        kwargs["workdir"] = workdir
    return cls(location, **kwargs)
