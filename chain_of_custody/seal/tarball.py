"""Deterministic tar of a bag: sorted names, fixed times, owners and modes.

Two copies of one case sealed with the same key and clock give byte-identical tars, so
the archive's own hash is reproducible in court.
"""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO


class TarError(Exception):
    pass


def _members(root: Path) -> list[tuple[str, ...]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root).parts
        for d in dirnames:
            out.append((*rel, d))
        for f in filenames:
            out.append((*rel, f))
    return sorted(out, key=lambda parts: [p.encode() for p in parts])


def write_tar(bag: Path, out: BinaryIO, mtime: int) -> None:
    bag = Path(bag)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        entries = [(), *_members(bag)]
        for parts in entries:
            path = bag.joinpath(*parts)
            st = os.lstat(path)
            name = "/".join((bag.name, *parts))
            info = tarfile.TarInfo(name)
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif stat.S_ISREG(st.st_mode):
                info.type = tarfile.REGTYPE
                info.mode = 0o644
                info.size = st.st_size
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                raise TarError(f"{path}: not a regular file or folder")


def extract_tar(src: BinaryIO, dest: Path, *, max_members: int = 1_000_000) -> Path:
    """Extract a bag tar safely (regular files and folders only, one top folder)."""
    dest = Path(dest)
    top: str | None = None
    try:
        with tarfile.open(fileobj=src, mode="r|*") as tar:
            for count, member in enumerate(tar):
                if count >= max_members:
                    raise TarError("too many members")
                name = member.name.rstrip("/")
                parts = name.split("/")
                if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
                    raise TarError(f"member {member.name!r}: unsafe path")
                if top is None:
                    top = parts[0]
                elif parts[0] != top:
                    raise TarError(f"member {member.name!r}: outside the bag folder {top}")
                if not (member.isreg() or member.isdir()):
                    raise TarError(f"member {member.name!r}: not a regular file or folder")
                target = dest.joinpath(*parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                fobj = tar.extractfile(member)
                if fobj is None:
                    raise TarError(f"member {member.name!r}: unreadable")
                with open(target, "xb") as out:
                    remaining = member.size
                    while remaining > 0:
                        chunk = fobj.read(min(1 << 20, remaining))
                        if not chunk:
                            raise TarError(f"member {member.name!r}: truncated")
                        out.write(chunk)
                        remaining -= len(chunk)
    except (tarfile.TarError, EOFError, FileExistsError) as exc:
        raise TarError(f"not a readable tar: {exc}") from None
    if top is None:
        raise TarError("empty tar")
    return dest / top
