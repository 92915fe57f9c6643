"""Read-only file trees that the AFC services expose.

A tree is built from backup records (media, app containers) or from a real folder (crash
reports); nodes point at the bytes, they never copy them. Paths are resolved inside the
tree only: ``..`` stops at the root, as AFC's jail does on the phone.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO


@dataclass
class Node:
    kind: str  # "dir", "file", "link"
    mtime: float = 0.0
    birth: float = 0.0
    size: int = 0
    opener: Callable[[], BinaryIO] | None = None
    target: str = ""
    children: dict[str, Node] = field(default_factory=dict)
    writable: bool = False  # only the sync lock file is, and nothing is ever written to it


def split(path: str) -> list[str]:
    parts: list[str] = []
    for part in path.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return parts


class Tree:
    def __init__(self) -> None:
        now = time.time()
        self.root = Node("dir", mtime=now, birth=now)

    def lookup(self, path: str) -> Node | None:
        node = self.root
        for part in split(path):
            if node.kind != "dir":
                return None
            child = node.children.get(part)
            if child is None:
                return None
            node = child
        return node

    def mkdirs(self, parts: list[str], mtime: float = 0.0) -> Node:
        node = self.root
        for part in parts:
            child = node.children.get(part)
            if child is None or child.kind != "dir":
                child = Node("dir", mtime=mtime, birth=mtime)
                node.children[part] = child
            node = child
        return node

    def add(self, path: str, node: Node) -> None:
        parts = split(path)
        if not parts:
            return
        parent = self.mkdirs(parts[:-1], node.mtime)
        existing = parent.children.get(parts[-1])
        if existing is not None and existing.kind == "dir" and node.kind == "dir":
            existing.mtime = node.mtime or existing.mtime
            return
        parent.children[parts[-1]] = node

    def count_files(self) -> int:
        stack, total = [self.root], 0
        while stack:
            node = stack.pop()
            if node.kind == "dir":
                stack.extend(node.children.values())
            elif node.kind == "file":
                total += 1
        return total


def file_node(path: Path, mtime: float | None = None, birth: float | None = None) -> Node:
    st = path.stat()
    return Node(
        "file",
        mtime=st.st_mtime if mtime is None else mtime,
        birth=st.st_mtime if birth is None else birth,
        size=st.st_size,
        opener=lambda: open(path, "rb"),
    )


def bytes_node(data: bytes, mtime: float) -> Node:
    import io

    return Node("file", mtime=mtime, birth=mtime, size=len(data), opener=lambda: io.BytesIO(data))


def tree_from_folder(folder: Path, max_entries: int = 100_000) -> Tree:
    """Mirror a real folder (regular files and folders only; links are not followed)."""
    tree = Tree()
    seen = 0
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        rel = Path(dirpath).relative_to(folder)
        dirnames.sort()
        if rel != Path("."):
            tree.mkdirs(split(rel.as_posix()), Path(dirpath).stat().st_mtime)
        for name in sorted(filenames):
            seen += 1
            if seen > max_entries:
                return tree
            path = Path(dirpath) / name
            if stat.S_ISREG(path.lstat().st_mode):
                tree.add((rel / name).as_posix(), file_node(path))
    return tree
