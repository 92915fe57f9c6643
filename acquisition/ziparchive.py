"""Zip archives of a file system or of any folder (random access, not sequential).

Zip bombs are met with bounded expansion rather than refusal, so nothing legitimate is
lost: a member declared to expand more than ``MEMBER_RATIO``:1 beyond ``MEMBER_FREE``
bytes, or members that overlap each other (the non-recursive "overlapping files" bomb),
or the members beyond a total expansion allowance, are listed with a Problem "zip bomb
suspected" and their reader stops at the cap with an :class:`EntryReadError`. The declared
size is a real bound: zipfile never inflates past it (a lie shows up as a CRC error).

Encrypted members and unknown compression methods are listed as ``OTHER`` with a
Problem: their bytes cannot be read, and a reader must not be offered for them.
"""

from __future__ import annotations

import calendar
import io
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, cast

from acquisition.android_layout import Layout, classify
from acquisition.base import Entry, EntryKind, Problem, Source
from acquisition.errors import EntryReadError, NotRecognised, SourceUnavailable
from acquisition.member_names import MemberNamer

_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
_READ_CHUNK = 1 << 16
_MAX_LINK = 4096


def _extra_times(extra: bytes) -> dict[str, float]:
    """mtime (and atime/ctime) from the Info-ZIP UT (0x5455) or NTFS (0x000a) extra fields."""
    times: dict[str, float] = {}
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + size]
        pos += 4 + size
        if tag == 0x5455 and len(body) >= 5 and body[0] & 1:
            times["mtime"] = float(struct.unpack_from("<i", body, 1)[0])
        elif tag == 0x000A and len(body) >= 32:
            inner = 4
            while inner + 4 <= len(body):
                attr, attr_size = struct.unpack_from("<HH", body, inner)
                if attr == 1 and attr_size >= 24 and inner + 4 + 24 <= len(body):
                    mtime, atime, ctime = struct.unpack_from("<QQQ", body, inner + 4)
                    for key, value in (("mtime", mtime), ("atime", atime), ("birth", ctime)):
                        if value:
                            times.setdefault(key, value / 10_000_000 - 11_644_473_600)
                inner += 4 + attr_size
    return times


class _CappedMember(io.RawIOBase):
    """A member's bytes up to ``cap``; decoder errors after the good prefix become
    EntryReadError."""

    def __init__(self, inner: BinaryIO, cap: int | None, path: str, offset: int, why: str) -> None:
        self._inner, self._cap, self._path, self._offset, self._why = inner, cap, path, offset, why
        self._done = 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._inner.close()
        super().close()

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), _READ_CHUNK)
        if self._cap is not None:
            if self._done >= self._cap:
                probe = self._inner.read(1)
                if not probe:
                    return 0
                raise EntryReadError(
                    f"{self._path}: zip bomb suspected ({self._why}); expansion stopped at "
                    f"{self._cap} bytes",
                    self._offset,
                )
            want = min(want, self._cap - self._done)
        try:
            data = self._inner.read(want)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
            raise EntryReadError(
                f"{self._path}: corrupt zip member data after {self._done} bytes: {exc}",
                self._offset,
            )
        buffer[: len(data)] = data
        self._done += len(data)
        return len(data)


class _Refused(io.RawIOBase):
    def __init__(self, path: str, offset: int, why: str) -> None:
        self._path, self._offset, self._why = path, offset, why

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise EntryReadError(
            f"{self._path}: zip bomb suspected ({self._why}); not expanded", self._offset
        )


class ZipSource(Source):
    """A zip archive; entries may be opened in any order while the source is open."""

    kind: ClassVar[str] = "fs-extraction"
    sequential: ClassVar[bool] = False
    MEMBER_FREE: ClassVar[int] = 16 << 20
    MEMBER_RATIO: ClassVar[int] = 200
    TOTAL_FREE: ClassVar[int] = 1 << 30
    TOTAL_RATIO: ClassVar[int] = 200

    def __init__(self, location: str | os.PathLike[str]) -> None:
        super().__init__(str(location))
        self.path = Path(location)
        self._zip: zipfile.ZipFile | None = None
        self.layout = Layout()
        self.members: int | None = None

    @classmethod
    def probe(cls, path: Path) -> bool:
        try:
            with open(path, "rb") as f:
                return f.read(4) in _MAGICS
        except OSError:
            return False

    def open(self) -> None:
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, struct.error) as exc:
            raise NotRecognised(f"{self.path}: not a readable zip archive ({exc})")
        except OSError as exc:
            raise SourceUnavailable(f"{self.path}: {exc.strerror or exc}")
        names = [info.filename for info in self._zip.infolist()]
        self.members = len(names)
        self.layout = classify(names)
        self.kind = "fs-extraction" if self.layout.name != "generic" else "folder"  # type: ignore[misc]

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def describe(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"format": "zip", "layout": self.layout.name}
        if self.layout.root:
            facts["android_root"] = self.layout.root
        if self.members is not None:
            facts["members"] = self.members
        return facts

    def _suspects(self, infos: list[zipfile.ZipInfo]) -> dict[int, str]:
        """Index → why, for members that overlap an earlier member's bytes."""
        why: dict[int, str] = {}
        order = sorted(range(len(infos)), key=lambda i: infos[i].header_offset)
        end = -1
        owner = -1
        for i in order:
            info = infos[i]
            if info.header_offset < end:
                why[i] = f"its data overlaps member {infos[owner].filename!r}"
            extent = info.header_offset + 30 + len(info.orig_filename.encode()) + info.compress_size
            if extent > end:
                end, owner = extent, i
        return why

    def entries(self) -> Iterator[Entry | Problem]:
        if self._zip is None:
            self.open()
        zf = self._zip
        assert zf is not None
        infos = zf.infolist()
        overlapping = self._suspects(infos)
        total_allowance = max(self.TOTAL_FREE, self.TOTAL_RATIO * self.path.stat().st_size)
        expanded = 0
        namer = MemberNamer(self.layout.normaliser())
        for index, info in enumerate(infos):
            offset = info.header_offset
            named = namer.name(
                info.filename,
                is_dir=info.is_dir(),
                offset=offset,
                where=f"local header at offset {offset}",
            )
            yield from named.problems
            if named.skip:
                continue
            path = named.path
            unix_mode = (info.external_attr >> 16) if info.create_system == 3 else 0
            times = _extra_times(info.extra)
            meta: dict[str, Any] = {
                "zip_offset": offset,
                "compressed_size": info.compress_size,
                "method": _METHODS.get(info.compress_type, f"method {info.compress_type}"),
                "dos_datetime": "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}".format(*info.date_time),
            }
            if "mtime" not in times:
                try:
                    times["mtime"] = float(calendar.timegm((*info.date_time, 0, 0, 0)))
                    meta["mtime_zone"] = "unknown: DOS local time read as UTC"
                except (ValueError, OverflowError):
                    pass
            common: dict[str, Any] = {
                "path": path,
                "times": times,
                "mode": stat.S_IMODE(unix_mode) if unix_mode else None,
                "origin": named.origin,
                "meta": meta,
            }
            if info.is_dir():
                yield Entry(kind=EntryKind.DIR, **common)
                continue
            file_type = stat.S_IFMT(unix_mode)
            if file_type == stat.S_IFLNK:
                yield self._symlink(zf, info, common)
                continue
            if file_type not in (0, stat.S_IFREG):
                yield Problem(
                    path,
                    "acquire",
                    f"{self.path}: special file {path!r} "
                    f"(mode {oct(unix_mode)}) listed, never read",
                    offset,
                    named.origin,
                )
                yield Entry(kind=EntryKind.OTHER, **common)
                continue
            if info.flag_bits & 0x1:
                meta["encrypted"] = True
                yield Problem(
                    path,
                    "decrypt",
                    f"{self.path}: member {path!r} is encrypted (zip encryption); listed, not read",
                    offset,
                    named.origin,
                )
                yield Entry(kind=EntryKind.OTHER, size=info.file_size, **common)
                continue
            if info.compress_type not in _METHODS:
                yield Problem(
                    path,
                    "acquire",
                    f"{self.path}: member {path!r} uses unsupported "
                    f"compression method {info.compress_type}; listed, not read",
                    offset,
                    named.origin,
                )
                yield Entry(kind=EntryKind.OTHER, size=info.file_size, **common)
                continue
            cap: int | None = None
            why = overlapping.get(index)
            if why is not None:
                cap = 0
            elif info.file_size > self.MEMBER_FREE and info.file_size > self.MEMBER_RATIO * max(
                info.compress_size, 1
            ):
                cap = max(self.MEMBER_FREE, self.MEMBER_RATIO * info.compress_size)
                why = (
                    f"declared {info.file_size} bytes from {info.compress_size} compressed, "
                    f"more than {self.MEMBER_RATIO}:1"
                )
            room = total_allowance - expanded
            if info.file_size > room and (cap is None or cap > room):
                cap = max(room, 0)
                why = why or (
                    f"the archive's members declare more than {total_allowance} bytes "
                    f"in total ({self.TOTAL_RATIO}:1 of the archive size)"
                )
            expanded += min(info.file_size, cap) if cap is not None else info.file_size
            if why is not None:
                meta["expansion_cap"] = cap
                yield Problem(
                    path,
                    "acquire",
                    f"{self.path}: zip bomb suspected in {path!r}: "
                    f"{why}; not expanded beyond {cap} bytes",
                    offset,
                    named.origin,
                )
            yield Entry(
                kind=EntryKind.FILE,
                size=info.file_size,
                opener=self._opener(zf, info, path, cap, why or ""),
                **common,
            )

    def _opener(
        self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, cap: int | None, why: str
    ) -> Any:
        def opener() -> BinaryIO:
            if self._zip is None:
                raise OSError(f"{path}: the zip source is closed")
            if cap == 0:  # nothing may be expanded: do not even start the decoder
                return cast(BinaryIO, _Refused(path, info.header_offset, why))
            try:
                inner = zf.open(info)
            except (
                zipfile.BadZipFile,
                NotImplementedError,
                zlib.error,
                ValueError,
                OSError,
            ) as exc:
                raise EntryReadError(f"{path}: cannot open zip member: {exc}", info.header_offset)
            return cast(
                BinaryIO, _CappedMember(cast(BinaryIO, inner), cap, path, info.header_offset, why)
            )

        return opener

    def _symlink(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, common: dict[str, Any]) -> Entry:
        target = None
        if info.file_size <= _MAX_LINK and not info.flag_bits & 0x1:
            try:
                with zf.open(info) as f:
                    target = f.read(_MAX_LINK).decode("utf-8", errors="backslashreplace")
            except (zipfile.BadZipFile, NotImplementedError, zlib.error, ValueError, OSError):
                target = None
        return Entry(kind=EntryKind.SYMLINK, link_target=target, **common)
