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
from dataclasses import dataclass, field
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
        except Exception as exc:  # zipfile on hostile bytes can raise nearly anything
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


_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_DESCRIPTOR_SIG = b"PK\x07\x08"
_CUT = "deflate stream cut by the end of the file"


@dataclass
class _LocalData:
    start: int  # file offset of the member's data
    truncated: bool = False  # the file ends inside the data


@dataclass
class _Recovered:
    infos: list[zipfile.ZipInfo] = field(default_factory=list)
    data: dict[int, _LocalData] = field(default_factory=dict)  # id(info) → where its data is
    problems: list[Problem] = field(default_factory=list)


def _zip64_sizes(extra: bytes, usize: int, csize: int) -> tuple[int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + size]
        pos += 4 + size
        if tag == 0x0001:
            values = list(struct.unpack_from(f"<{len(body) // 8}Q", body))
            if usize == 0xFFFFFFFF and values:
                usize = values.pop(0)
            if csize == 0xFFFFFFFF and values:
                csize = values.pop(0)
    return usize, csize


def _inflate_end(f: BinaryIO, start: int, limit_ratio: int, free: int) -> tuple[int, int] | str:
    """(compressed, uncompressed) size of the raw deflate stream at ``start``, found by
    inflating it (output discarded); a message when it is cut, corrupt or a bomb."""
    f.seek(start)
    z = zlib.decompressobj(-15)
    consumed = produced = 0
    while not z.eof:
        chunk = f.read(_READ_CHUNK)
        if not chunk:
            return _CUT
        data = chunk
        while data:
            try:
                out = z.decompress(data, 1 << 20)
            except zlib.error as exc:
                return f"corrupt deflate stream: {exc}"
            produced += len(out)
            if produced > max(free, limit_ratio * (consumed + len(chunk))):
                return "zip bomb suspected: expansion beyond the allowed ratio"
            data = z.unconsumed_tail
            if z.eof:
                break
        consumed += len(chunk) - len(z.unused_data)
    return consumed, produced


def _scan_local_headers(path: Path, ratio: int, free: int) -> _Recovered:
    """Members from their local headers, front to back, when the central directory is
    missing or corrupt (a truncated download, a carved fragment)."""
    found = _Recovered()
    size = path.stat().st_size
    with open(path, "rb") as f:
        pos = 0
        while pos + _LOCAL.size <= size:
            f.seek(pos)
            head = f.read(_LOCAL.size)
            if head[:4] != b"PK\x03\x04":
                if head[:4] not in (b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06"):
                    found.problems.append(
                        Problem(
                            "",
                            "acquire",
                            f"{path}: no zip local header at offset {pos}; "
                            "members after it cannot be recovered",
                            pos,
                        )
                    )
                return found
            (_sig, _ver, flags, method, dos_time, dos_date, crc, csize, usize, nlen, xlen) = (
                _LOCAL.unpack(head)
            )
            name = f.read(nlen)
            extra = f.read(xlen)
            if len(name) < nlen or len(extra) < xlen or not name:
                found.problems.append(
                    Problem(
                        "",
                        "acquire",
                        f"{path}: local header at offset {pos} is cut or nameless; "
                        "members after it cannot be recovered",
                        pos,
                    )
                )
                return found
            start = pos + _LOCAL.size + nlen + xlen
            usize, csize = _zip64_sizes(extra, usize, csize)
            next_pos: int | None = None
            cut = False
            if flags & 0x08 and csize in (0, 0xFFFFFFFF):
                if method != zipfile.ZIP_DEFLATED:
                    found.problems.append(
                        Problem(
                            "",
                            "acquire",
                            f"{path}: member at offset {pos} has no sizes "
                            "(data descriptor, not deflated); later members cannot be "
                            "recovered",
                            pos,
                        )
                    )
                    return found
                end = _inflate_end(cast(BinaryIO, f), start, ratio, free)
                if end == _CUT:
                    end, cut = (size - start, 0), True
                if isinstance(end, str):
                    found.problems.append(
                        Problem(
                            "",
                            "acquire",
                            f"{path}: member at offset {pos}: {end}; later "
                            "members cannot be recovered",
                            pos,
                        )
                    )
                    return found
                csize, usize = end
                f.seek(start + csize)
                descriptor = f.read(24)
                skip = 4 if descriptor[:4] == _DESCRIPTOR_SIG else 0
                if len(descriptor) >= skip + 4:
                    crc = struct.unpack_from("<I", descriptor, skip)[0]
                next_pos = start + csize + skip + 12
            utf8 = bool(flags & 0x800)
            info = zipfile.ZipInfo(
                name.decode("utf-8" if utf8 else "cp437", errors="surrogateescape"),
                (
                    ((dos_date >> 9) & 0x7F) + 1980,
                    (dos_date >> 5) & 0x0F or 1,
                    dos_date & 0x1F or 1,
                    dos_time >> 11,
                    (dos_time >> 5) & 0x3F,
                    (dos_time & 0x1F) * 2,
                ),
            )
            info.flag_bits, info.compress_type, info.CRC = flags, method, crc
            info.compress_size, info.file_size = csize, usize
            info.extra, info.header_offset = extra, pos
            info.create_system = 0  # local headers carry no file type or mode
            truncated = cut or start + csize > size
            found.infos.append(info)
            found.data[id(info)] = _LocalData(start, truncated)
            if truncated:
                found.problems.append(
                    Problem(
                        "",
                        "acquire",
                        f"{path}: the file ends inside the data of member "
                        f"{info.filename!r} (offset {pos}); nothing after it",
                        size,
                    )
                )
                return found
            pos = next_pos if next_pos is not None else start + csize
    return found


class _LocalReader(io.RawIOBase):
    """A member read straight from its local data (no central directory): stored or
    deflated, CRC checked at the end, a cut member yields its prefix then EntryReadError."""

    def __init__(self, path: Path, info: zipfile.ZipInfo, data: _LocalData) -> None:
        self._f = open(path, "rb")  # closed in close()
        self._f.seek(data.start)
        self._info, self._data = info, data
        self._left = info.compress_size
        self._z = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
        self._tail = b""
        self._crc = 0
        self._out = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._f.close()
        super().close()

    def _fail(self, why: str) -> EntryReadError:
        self._done = True
        return EntryReadError(f"{self._info.filename}: {why}", self._info.header_offset)

    def readinto(self, buffer: Any) -> int:
        while not self._done:
            if not self._tail and self._left > 0:
                self._tail = self._f.read(min(self._left, _READ_CHUNK))
                self._left -= len(self._tail)
                if not self._tail:
                    raise self._fail(
                        f"member data cut by the end of the file after {self._out} bytes"
                    )
            if self._z is None:
                out, self._tail = self._tail[: len(buffer)], self._tail[len(buffer) :]
            else:
                try:
                    out = self._z.decompress(self._tail, len(buffer))
                except zlib.error as exc:
                    raise self._fail(f"corrupt deflate data after {self._out} bytes: {exc}")
                self._tail = self._z.unconsumed_tail
            if out:
                self._crc = zlib.crc32(out, self._crc)
                self._out += len(out)
                buffer[: len(out)] = out
                return len(out)
            if self._tail:
                continue
            if self._left <= 0:
                self._done = True
                if self._data.truncated or (self._z is not None and not self._z.eof):
                    raise self._fail(f"member data cut after {self._out} bytes")
                if self._crc != self._info.CRC and not self._info.flag_bits & 0x08:
                    raise self._fail("CRC mismatch: the member's data is corrupt")
        return 0


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
        self._recovered: _Recovered | None = None
        self._opened = False
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
        self._recovered = None
        try:
            self._zip = zipfile.ZipFile(self.path)
            infos = self._zip.infolist()
        except OSError as exc:
            raise SourceUnavailable(f"{self.path}: {exc.strerror or exc}")
        except Exception as exc:  # BadZipFile, NotImplementedError, IndexError... on hostile bytes
            if not self.probe(self.path):
                raise NotRecognised(f"{self.path}: not a readable zip archive ({exc})")
            try:  # no usable central directory: recover members from their local headers
                self._recovered = _scan_local_headers(
                    self.path, self.MEMBER_RATIO, self.MEMBER_FREE
                )
            except OSError as err:
                raise SourceUnavailable(f"{self.path}: {err.strerror or err}")
            if not any(info.filename for info in self._recovered.infos):
                raise NotRecognised(f"{self.path}: not a readable zip archive ({exc})")
            self._recovered.problems.insert(
                0,
                Problem(
                    "",
                    "acquire",
                    f"{self.path}: zip central directory missing or corrupt "
                    f"({exc}); {len(self._recovered.infos)} members recovered from their "
                    "local headers",
                    None,
                ),
            )
            infos = self._recovered.infos
        self._opened = True
        names = [info.filename for info in infos]
        self.members = len(names)
        self.layout = classify(names)
        self.kind = "fs-extraction" if self.layout.name != "generic" else "folder"  # type: ignore[misc]

    def close(self) -> None:
        self._opened = False
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def _open_member(self, info: zipfile.ZipInfo) -> BinaryIO:
        if self._recovered is not None:
            return cast(BinaryIO, _LocalReader(self.path, info, self._recovered.data[id(info)]))
        assert self._zip is not None
        return cast(BinaryIO, self._zip.open(info))

    def describe(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"format": "zip", "layout": self.layout.name}
        if self.layout.root:
            facts["android_root"] = self.layout.root
        if self.members is not None:
            facts["members"] = self.members
        if self._recovered is not None:
            facts["recovered_from"] = "local headers (central directory missing or corrupt)"
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
        if not self._opened:
            self.open()
        if self._recovered is not None:
            infos = self._recovered.infos
            yield from self._recovered.problems
        else:
            assert self._zip is not None
            infos = self._zip.infolist()
        overlapping = self._suspects(infos)
        total_allowance = max(self.TOTAL_FREE, self.TOTAL_RATIO * self.path.stat().st_size)
        expanded = 0
        namer = MemberNamer(self.layout.normaliser())
        for index, info in enumerate(infos):
            offset = info.header_offset
            named = namer.name(
                info.filename,
                is_dir=info.filename.endswith("/"),
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
            if info.filename.endswith("/"):
                yield Entry(kind=EntryKind.DIR, **common)
                continue
            file_type = stat.S_IFMT(unix_mode)
            if file_type == stat.S_IFLNK:
                yield self._symlink(info, common)
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
                opener=self._opener(info, path, cap, why or ""),
                **common,
            )

    def _opener(self, info: zipfile.ZipInfo, path: str, cap: int | None, why: str) -> Any:
        def opener() -> BinaryIO:
            if not self._opened:
                raise OSError(f"{path}: the zip source is closed")
            if cap == 0:  # nothing may be expanded: do not even start the decoder
                return cast(BinaryIO, _Refused(path, info.header_offset, why))
            try:
                inner = self._open_member(info)
            except Exception as exc:  # hostile member headers: anything zipfile may raise
                raise EntryReadError(f"{path}: cannot open zip member: {exc}", info.header_offset)
            return cast(
                BinaryIO, _CappedMember(cast(BinaryIO, inner), cap, path, info.header_offset, why)
            )

        return opener

    def _symlink(self, info: zipfile.ZipInfo, common: dict[str, Any]) -> Entry:
        target = None
        if info.file_size <= _MAX_LINK and not info.flag_bits & 0x1:
            try:
                with self._open_member(info) as f:
                    target = f.read(_MAX_LINK).decode("utf-8", errors="backslashreplace")
            except Exception:  # an unreadable link target is listed as unknown
                target = None
        return Entry(kind=EntryKind.SYMLINK, link_target=target, **common)
