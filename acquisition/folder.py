"""A folder on the examiner's machine: a file-system extraction, a sync folder, a spool.

Walked without ever following a symlink (a link is listed with its target, even when it
points outside the folder, and never read through), in sorted order so two runs list the
same thing. Fifos, sockets and device nodes are listed as ``OTHER`` and never opened:
opening a fifo blocks until a writer appears. Files are opened with ``O_NOFOLLOW`` and
``O_NONBLOCK`` (and ``O_NOATIME`` where allowed, so reading does not touch the source's
access times), then checked to still be regular files: the tree may change under us.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from acquisition import companion
from acquisition.android_layout import Layout, classify
from acquisition.base import Entry, EntryKind, Problem, Source
from acquisition.errors import SourceUnavailable
from acquisition.member_names import MemberNamer, printable

LAYOUT_DEPTH = 6  # data/user/0/<pkg> and storage/emulated/0/Android, in one wrapper
LAYOUT_NAMES = 50_000
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_NOATIME = getattr(os, "O_NOATIME", 0)
_SPECIAL = {
    stat.S_IFIFO: "fifo",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
}


def open_regular(path: str) -> BinaryIO:
    """Open a regular file read-only without following links or blocking on a fifo."""
    try:
        fd = os.open(path, _OPEN_FLAGS | _NOATIME)
    except PermissionError:
        if not _NOATIME:
            raise
        fd = os.open(path, _OPEN_FLAGS)  # O_NOATIME needs ownership; retry without
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{printable(path)}: no longer a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class FolderSource(Source):
    """Any folder (the iOS backup source probes before this one)."""

    kind: ClassVar[str] = "folder"
    sequential: ClassVar[bool] = False

    def __init__(self, location: str | os.PathLike[str]) -> None:
        super().__init__(str(location))
        self.path = Path(location)
        self.layout = Layout()
        self.companion: companion.CompanionProfile | None = None

    @classmethod
    def probe(cls, path: Path) -> bool:
        return path.is_dir()

    def open(self) -> None:
        if not self.path.is_dir():
            raise SourceUnavailable(f"{self.path}: not found or not a folder")
        try:
            with os.scandir(self.path):
                pass
        except OSError as exc:
            raise SourceUnavailable(f"{self.path}: cannot be listed ({exc.strerror or exc})")
        names = list(self._shallow_names())
        self.layout = classify(names)
        kind = "fs-extraction" if self.layout.name != "generic" else "folder"
        self.kind = kind  # type: ignore[misc]  # per instance: decided by the content
        if self.layout.name == "generic":
            self.companion = companion.match(names)

    def _shallow_names(self) -> Iterator[str]:
        """Relative paths of the top LAYOUT_DEPTH levels (breadth first, bounded)."""
        queue: list[tuple[str, str, int]] = [(str(self.path), "", 0)]
        count = 0
        while queue:
            folder, rel, depth = queue.pop(0)
            try:
                with os.scandir(folder) as it:
                    children = sorted(it, key=lambda e: e.name)
            except OSError:
                continue
            for child in children:
                count += 1
                if count > LAYOUT_NAMES:
                    return
                name = f"{rel}{child.name}"
                is_dir = child.is_dir(follow_symlinks=False)
                yield name + "/" if is_dir else name
                if is_dir and depth + 1 < LAYOUT_DEPTH:
                    queue.append((child.path, name + "/", depth + 1))

    def describe(self) -> dict[str, Any]:
        facts = {"format": "folder", "layout": self.layout.name}
        if self.companion is not None:
            facts["companion_profile"] = self.companion.name
            facts["companion_description"] = self.companion.description
        if self.layout.root:
            facts["android_root"] = self.layout.root
        return facts

    def _normaliser(self) -> Callable[[str], str | None] | None:
        if self.companion is None:
            return self.layout.normaliser()
        base = companion.prefix(self.companion)
        return lambda path: f"{base}/{path}" if path else base

    def entries(self) -> Iterator[Entry | Problem]:
        namer = MemberNamer(self._normaliser())
        root = os.path.realpath(self.path)
        stack: list[Iterator[os.DirEntry[str]]] = []
        rels: list[str] = []
        listed = self._list(str(self.path), "")
        if isinstance(listed, Problem):
            yield listed
            return
        stack.append(iter(listed))
        rels.append("")
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                rels.pop()
                continue
            rel = rels[-1] + child.name
            try:
                st = child.stat(follow_symlinks=False)
            except OSError as exc:
                yield Problem(printable(rel), "acquire", f"{child.path}: cannot stat: {exc}")
                continue
            mode = st.st_mode
            named = namer.name(rel, is_dir=stat.S_ISDIR(mode), where=printable(child.path))
            yield from named.problems
            if named.skip:  # a wrapping folder or a second spelling: list what is inside
                if stat.S_ISDIR(mode):
                    yield from self._descend(child, rel, stack, rels)
                continue
            path = named.path
            common: dict[str, Any] = {
                "path": path,
                "times": {"mtime": st.st_mtime, "atime": st.st_atime, "ctime": st.st_ctime},
                "mode": stat.S_IMODE(mode),
                "origin": named.origin,
                "meta": {"uid": st.st_uid, "gid": st.st_gid, "inode": st.st_ino},
            }
            if st.st_nlink > 1 and not stat.S_ISDIR(mode):
                common["meta"]["nlink"] = st.st_nlink
            if stat.S_ISDIR(mode):
                yield Entry(kind=EntryKind.DIR, **common)
                yield from self._descend(child, rel, stack, rels)
            elif stat.S_ISLNK(mode):
                yield from self._symlink(child, root, common)
            elif stat.S_ISREG(mode):
                yield from self._file(child, st.st_size, common)
            else:
                what = _SPECIAL.get(stat.S_IFMT(mode), f"file type {oct(stat.S_IFMT(mode))}")
                common["meta"]["file_type"] = what
                if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                    common["meta"]["device"] = [os.major(st.st_rdev), os.minor(st.st_rdev)]
                yield Problem(path, "acquire", f"{child.path}: {what} listed, never opened")
                yield Entry(kind=EntryKind.OTHER, **common)

    def _descend(
        self,
        child: os.DirEntry[str],
        rel: str,
        stack: list[Iterator[os.DirEntry[str]]],
        rels: list[str],
    ) -> Iterator[Problem]:
        listed = self._list(child.path, rel + "/")
        if isinstance(listed, Problem):
            yield listed
        else:
            stack.append(iter(listed))
            rels.append(rel + "/")

    def _list(self, folder: str, rel: str) -> list[os.DirEntry[str]] | Problem:
        try:
            with os.scandir(folder) as it:
                return sorted(it, key=lambda e: e.name)
        except OSError as exc:
            return Problem(
                printable(rel.rstrip("/")),
                "acquire",
                f"{printable(folder)}: cannot list folder: {exc.strerror or exc}",
            )

    def _symlink(
        self, child: os.DirEntry[str], root: str, common: dict[str, Any]
    ) -> Iterator[Entry | Problem]:
        try:
            target = os.readlink(child.path)
        except OSError as exc:
            yield Problem(common["path"], "acquire", f"{child.path}: cannot read link: {exc}")
            target = None
        if target is not None:
            resolved = os.path.normpath(os.path.join(os.path.dirname(child.path), target))
            resolved = os.path.join(
                os.path.realpath(os.path.dirname(resolved)), os.path.basename(resolved)
            )
            if resolved != root and not resolved.startswith(root + os.sep):
                yield Problem(
                    common["path"],
                    "acquire",
                    f"{printable(child.path)}: symlink points outside the folder "
                    f"({printable(target)!r}); listed, not followed",
                )
        yield Entry(
            kind=EntryKind.SYMLINK,
            link_target=printable(target) if target is not None else None,
            **common,
        )

    def _file(
        self, child: os.DirEntry[str], size: int, common: dict[str, Any]
    ) -> Iterator[Entry | Problem]:
        location = child.path
        try:
            open_regular(location).close()
        except OSError as exc:
            yield Problem(
                common["path"],
                "acquire",
                f"{printable(location)}: unreadable ({exc.strerror or exc}); listed, not read",
            )
            common["meta"]["unreadable"] = True
            yield Entry(kind=EntryKind.OTHER, size=size, **common)
            return
        yield Entry(kind=EntryKind.FILE, size=size, opener=lambda: open_regular(location), **common)
