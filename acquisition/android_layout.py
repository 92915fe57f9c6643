"""One naming of an Android file system, whatever produced the copy.

The same SQLite file is ``data/user/0/com.x/databases/a.db`` in a root dump,
``data/data/com.x/databases/a.db`` in another, and ``apps/com.x/db/a.db`` inside an
``adb backup``; shared storage is ``storage/emulated/0``, ``data/media/0``, ``mnt/sdcard``
or ``shared/0``. Parsers match evidence paths, so every source maps these spellings to one
canonical form here (app data under ``data/data/<package>/``, shared storage under
``sdcard/``) and keeps the name it found as the entry's ``origin``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Shared storage spellings, longest first so the most specific one wins.
_SHARED_ROOTS = (
    "mnt/shell/emulated/0",
    "storage/emulated/0",
    "storage/self/primary",
    "storage/sdcard0",
    "data/media/0",
    "mnt/sdcard",
    "sdcard",
)
# Top-level folders of an Android root file system: paths under them are Android paths.
_ANDROID_ROOTS = frozenset(
    {
        "data",
        "sdcard",
        "storage",
        "mnt",
        "system",
        "vendor",
        "product",
        "apex",
        "cache",
        "apps",
        "shared",
    }
)

_PACKAGE = r"[A-Za-z][\w]*(?:\.[\w]+)+"
_TOKENS = "_manifest|_meta|a|obb|f|db|sp|r|nb|c|ef|k|d_f|d_db|d_sp|d_r|d_nb|d_c"
_MARKERS = (
    re.compile(rf"^data/data/{_PACKAGE}(/|$)"),
    re.compile(rf"^data/user/\d+/{_PACKAGE}(/|$)"),
    re.compile(r"^data/user_de/\d+/"),
    re.compile(r"^data/media/0/"),
    re.compile(r"^storage/emulated/\d+/"),
    re.compile(r"^data/system/(packages\.xml|users/)"),
    re.compile(r"^(mnt/)?sdcard/Android/"),
    re.compile(rf"^apps/{_PACKAGE}/({_TOKENS})(/|$)"),
)

# adb backup tokens (android.app.backup.FullBackup) → on-device folder under the app's root.
_APP_DATA_TOKENS = {
    "f": "files",
    "db": "databases",
    "sp": "shared_prefs",
    "r": "",
    "c": "cache",
    "nb": "no_backup",
}
_DE_TOKENS = {"d_" + token: sub for token, sub in _APP_DATA_TOKENS.items()}


def _under(path: str, root: str) -> str | None:
    """The rest of ``path`` below ``root`` ('' for root itself), or None when not under it."""
    if path == root:
        return ""
    if path.startswith(root + "/"):
        return path[len(root) + 1 :]
    return None


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def ab_member_path(name: str) -> str:
    """The on-device path an ``adb backup`` tar member stands for, or the name itself.

    ``apps/<pkg>/db/x`` → ``data/data/<pkg>/databases/x`` and so on; key-value data
    (``k``), ``_manifest``, ``_meta`` and unknown tokens have no file-system home and stay
    as they are. The device-encrypted (``d_*``) tokens go to user 0 because the archive
    does not record which user ``adb backup -user N`` was run for.
    """
    rest = _under(name, "shared")
    if rest is not None:
        user, _, tail = rest.partition("/")
        if user == "0":
            return _join("sdcard", tail)
        if user.isdigit():
            return _join("storage/emulated", user, tail)
        return name
    parts = name.split("/", 3)
    if len(parts) < 3 or parts[0] != "apps":
        return name
    package, token = parts[1], parts[2]
    tail = parts[3] if len(parts) == 4 else ""
    if token in _APP_DATA_TOKENS:
        return _join("data/data", package, _APP_DATA_TOKENS[token], tail)
    if token in _DE_TOKENS:
        return _join("data/user_de/0", package, _DE_TOKENS[token], tail)
    if token == "ef":
        return _join("sdcard/Android/data", package, tail)
    if token == "obb":
        return _join("sdcard/Android/obb", package, tail)
    if token == "a":
        return _join("data/app", package, tail)
    if token == "shared":  # the shared-storage agent's own spelling on some releases
        return ab_member_path(_join("shared", tail)) if tail else name
    return name


def android_normalise(path: str) -> str | None:
    """The canonical evidence path for ``path`` in an Android tree, or None if not Android.

    ``path`` is already sanitised (relative POSIX, no ``..``). App data of user 0 goes to
    ``data/data/<package>/``; ``data/user_de/<n>/`` and other users stay as found; shared
    storage of user 0 goes to ``sdcard/``; ``adb backup`` member names (``apps/<pkg>/<token>``,
    as left by tools that unpack an ``.ab``) go where the token says.
    """
    path = path.strip("/")
    top = path.split("/", 1)[0]
    if top not in _ANDROID_ROOTS:
        return None
    for root in _SHARED_ROOTS:
        rest = _under(path, root)
        if rest is not None:
            return _join("sdcard", rest)
    rest = _under(path, "data/user/0")
    if rest is not None:
        return _join("data/data", rest)
    if top in ("apps",) or _under(path, "shared") is not None:
        return ab_member_path(path)
    return path


def looks_android(paths: Iterable[str], limit: int | None = None) -> bool:
    """True as soon as one path is a marker only an Android file system has.

    Stops at the first marker, so a caller may pass a lazy listing; ``limit`` bounds how
    many paths are looked at. A bare ``sdcard/`` or ``data/`` is not enough: many trees
    that are not phones have such folders.
    """
    for count, raw in enumerate(paths):
        if limit is not None and count >= limit:
            return False
        path = raw.lstrip("/")
        while path.startswith("./"):
            path = path[2:]
        if any(marker.match(path) for marker in _MARKERS):
            return True
    return False


_OTHER_DEVICE_MARKERS = (
    re.compile(r"^private/var/(mobile|containers|root)/"),
    re.compile(r"^var/mobile/"),
    re.compile(r"^System/Library/CoreServices/SystemVersion\.plist$"),
)


def looks_device_fs(paths: Iterable[str], limit: int | None = None) -> bool:
    """True when the listing looks like some device's file system (iOS, a PBX root...)."""
    for count, raw in enumerate(paths):
        if limit is not None and count >= limit:
            return False
        path = raw.lstrip("/")
        while path.startswith("./"):
            path = path[2:]
        if any(marker.match(path) for marker in _OTHER_DEVICE_MARKERS):
            return True
    return False


@dataclass(frozen=True)
class Layout:
    """What a listing looks like: ``name`` is "android", "device" (another device's file
    system) or "generic"; ``root`` is the folder the Android tree sits in ("" at the top,
    "Dump/" when an extraction tool wrapped it in one folder)."""

    name: str = "generic"
    root: str = ""

    def normaliser(self) -> Callable[[str], str | None] | None:
        """The path mapping a source applies to its names, or None to keep them as found."""
        if self.name != "android":
            return None
        if not self.root:
            return android_normalise
        wrapper = self.root.rstrip("/")

        def under_root(path: str) -> str | None:
            rest = _under(path, wrapper)
            if rest is None:
                return None
            return android_normalise(rest) or rest if rest else ""

        return under_root


def _clean(raw: str) -> str:
    path = raw.lstrip("/")
    while path.startswith("./"):
        path = path[2:]
    return "" if path == "." else path


def classify(names: Iterable[str]) -> Layout:
    """The layout of a listing; stops at the first top-level Android marker.

    One wrapping folder is looked through (``Dump/data/data/<pkg>/...``) when every name
    sits inside it; that case needs the whole listing.
    """
    wrappers: set[str] = set()
    tops: set[str] = set()
    device = False
    for raw in names:
        path = _clean(raw)
        if not path:
            continue
        if any(marker.match(path) for marker in _MARKERS):
            return Layout("android")
        top, _, rest = path.partition("/")
        if len(tops) < 2:
            tops.add(top)
        if rest and len(wrappers) < 2 and any(marker.match(rest) for marker in _MARKERS):
            wrappers.add(top)
        if not device and looks_device_fs((path,)):
            device = True
    if len(wrappers) == 1 and tops == wrappers:
        return Layout("android", next(iter(wrappers)) + "/")
    return Layout("device" if device else "generic")
