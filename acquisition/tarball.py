"""Tar archives (plain, gzip, bzip2, xz) and the one-pass tar walker the ``.ab`` source shares.

A tar is read as a stream, front to back, once: an entry's ``open()`` is valid until the
next entry is yielded. That keeps memory constant for any archive size and lets the same
walker serve a tar that arrives through decryption and decompression (``.ab``).

Hostile archives are listed, not trusted: names are sanitised and made unique
(:mod:`acquisition.member_names`); symlinks, hard links, device nodes and fifos are listed
(``SYMLINK``/``OTHER`` with ``link_target``) and never read through (hard links are *not*
resolved to the earlier member's content: in a one-pass stream that content is gone);
extension headers (GNU long names, pax) larger than 1 MiB are refused before tarfile reads
them into memory; a cut or corrupt stream ends the walk with a ``Problem`` giving the
offset, after every member before the damage was yielded.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import posixpath
import tarfile
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, cast

from acquisition.android_layout import Layout, classify
from acquisition.base import Entry, EntryKind, Problem, Source
from acquisition.errors import EntryReadError, NotRecognised, SourceUnavailable
from acquisition.member_names import MemberNamer, printable

# tarfile's header error classes and its members/firstmember attributes are not in the
# type stubs but have been stable since Python 3.2; reach them through an untyped alias.
_tarfile: Any = tarfile
BLOCK = 512
MAX_EXTENSION_HEADER = 1 << 20
READ_CHUNK = 1 << 20
_EXTENSION_TYPES = frozenset(
    {
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
    }
)
_TYPE_NAMES = {
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "fifo",
    tarfile.LNKTYPE: "hard link",
}
_DECODER_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)
# tarfile and the decompressors parse hostile bytes and can raise nearly anything
# (ValueError, IndexError, UnicodeError, OverflowError...): wherever they meet archive
# content we catch Exception and turn it into a Problem, so no traceback reaches the user.


@dataclass(frozen=True)
class StreamFault:
    """Why a byte stream stopped early; ``offset`` is in the file the user gave."""

    message: str
    offset: int | None = None
    stage: str = "acquire"  # "decrypt" when the ciphertext itself is cut or corrupt


class _GuardedTarInfo(tarfile.TarInfo):
    """Refuses oversized extension headers: tarfile would read them whole into memory."""

    @classmethod
    def frombuf(cls, buf: bytes, encoding: str, errors: str) -> tarfile.TarInfo:  # type: ignore[override]
        info = super().frombuf(buf, encoding, errors)
        if info.type in _EXTENSION_TYPES and info.size > MAX_EXTENSION_HEADER:
            raise _tarfile.InvalidHeaderError(
                f"extension header of {info.size} bytes exceeds the "
                f"{MAX_EXTENSION_HEADER}-byte limit"
            )
        return info


class _Walk:
    """Where the one-pass walk stands; member streams check ``token`` to refuse stale reads."""

    def __init__(self, fileobj: Any) -> None:
        self.fileobj = fileobj
        self.token = 0
        self.short_seen = False


class _MemberStream(io.RawIOBase):
    """The current member's bytes, read straight from the tar stream.

    When the stream ends early every byte that arrived is returned first, then
    :class:`EntryReadError` says where the data stops.
    """

    def __init__(
        self, walk: _Walk, end: int, path: str, fault: Callable[[], StreamFault | None]
    ) -> None:
        self._walk, self._token, self._end, self._path, self._fault = (
            walk,
            walk.token,
            end,
            path,
            fault,
        )

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        walk = self._walk
        if walk.token != self._token:
            raise OSError(f"{self._path}: the archive stream has moved past this entry")
        want = min(len(buffer), self._end - walk.fileobj.tell(), READ_CHUNK)
        if want <= 0:
            return 0
        data = walk.fileobj.read(want)
        if not data:
            walk.short_seen = True
            fault = self._fault()
            where = walk.fileobj.tell()
            raise EntryReadError(
                f"{self._path}: member data ends at tar offset {where}, "
                f"{self._end - where} bytes short" + (f": {fault.message}" if fault else ""),
                fault.offset if fault and fault.offset is not None else where,
            )
        buffer[: len(data)] = data
        return len(data)


def _escapes(member: str, target: str) -> bool:
    if target.startswith("/"):
        return False  # absolute targets point inside the device file system the archive holds
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(member), target))
    return joined == ".." or joined.startswith("../")


def walk_tar_stream(
    stream: BinaryIO,
    *,
    namer: MemberNamer,
    location: str,
    fault: Callable[[], StreamFault | None] = lambda: None,
    path_map: Callable[[str], str] | None = None,
) -> Iterator[Entry | Problem]:
    """Yield every member of the tar in ``stream`` in one forward pass.

    ``path_map`` rewrites a sanitised name before ``namer`` maps and dedups it (the
    ``.ab`` token mapping); ``fault`` tells why the underlying stream stopped, if it did.
    """
    reported = False

    def fault_problem(default: str, offset: int | None) -> Problem:
        nonlocal reported
        cause = fault()
        reported = True
        if cause is not None:
            return Problem("", cause.stage, f"{location}: {cause.message}", cause.offset)
        return Problem("", "acquire", f"{location}: {default}", offset)

    try:
        tar = tarfile.open(
            fileobj=stream,
            mode="r|",
            tarinfo=_GuardedTarInfo,
            encoding="utf-8",
            errors="surrogateescape",
        )
    except Exception as exc:
        yield fault_problem(f"not a readable tar stream: {exc}", 0)
        return
    walk = _Walk(tar.fileobj)
    loose: Any = tar
    info: tarfile.TarInfo | None = loose.firstmember
    loose.firstmember = None
    loose.members.clear()
    while info is not None:
        yield from _member(tar, info, walk, namer, fault, path_map)
        walk.token += 1
        data_end = info.offset_data + (info.size if info.isreg() else 0)
        try:
            _drain(tar)
        except _ShortStream as short:
            if info.isreg() and short.at < data_end:
                # The cut is inside this member's data: one Problem, unless the reader of the
                # entry already got it as an EntryReadError.
                cause = fault()
                reported = True
                if not walk.short_seen:
                    yield Problem(
                        namer.last_path,
                        cause.stage if cause else "acquire",
                        f"{location}: member {namer.last_path!r} ends at tar offset {short.at}, "
                        f"{data_end - short.at} of {info.size} bytes missing"
                        + (f": {cause.message}" if cause else " (archive truncated)"),
                        cause.offset if cause and cause.offset is not None else short.at,
                    )
            elif not reported:
                yield fault_problem(f"archive truncated at tar offset {short.at}", short.at)
            break
        except Exception as exc:
            yield fault_problem(f"read error at tar offset {tar.offset}: {exc}", tar.offset)
            break
        walk.short_seen = False
        try:
            info = _GuardedTarInfo.fromtarfile(tar)
        except _tarfile.EOFHeaderError:
            info = None
            trailing = _trailing(tar)
            if trailing is not None:
                yield Problem(
                    "",
                    "acquire",
                    f"{location}: {trailing[1]} bytes of data after the end-of-archive marker "
                    f"at tar offset {trailing[0]} (not zero padding); not listed",
                    trailing[0],
                )
        except _tarfile.EmptyHeaderError:
            if fault() is not None and not reported:
                yield fault_problem("", tar.offset)
            elif not reported:
                reported = True
                yield Problem(
                    "",
                    "acquire",
                    f"{location}: no end-of-archive marker after the last member "
                    f"(tar offset {tar.offset}); the archive may be truncated",
                    tar.offset,
                )
            info = None
        except _tarfile.TruncatedHeaderError:
            yield fault_problem(
                f"archive truncated inside the header at tar offset {tar.offset}", tar.offset
            )
            info = None
        except tarfile.HeaderError as exc:  # invalid or subsequent header error
            start = tar.offset
            info = _resync(tar)
            yield Problem(
                "",
                "acquire",
                f"{location}: corrupt tar header at tar offset {start}: {exc}; "
                + (
                    f"skipped {info.offset - start} bytes to the next valid header "
                    f"at tar offset {info.offset}"
                    if info is not None
                    else "no valid header after it"
                    + (" before the stream fails" if fault() else "")
                ),
                start,
            )
        except Exception as exc:
            yield fault_problem(f"read error at tar offset {tar.offset}: {exc}", tar.offset)
            info = None
    if not reported and fault() is not None:
        yield fault_problem("", None)


class _ShortStream(Exception):
    def __init__(self, at: int) -> None:
        self.at = at


def _resync(tar: tarfile.TarFile) -> tarfile.TarInfo | None:
    """After a corrupt header, look block by block for the next valid one, so members
    after the damage are not lost. Zero blocks are stepped over: inside a damaged region
    they prove nothing about the end of the archive."""
    while True:
        tar.offset += BLOCK
        try:
            _drain(tar)
            return _GuardedTarInfo.fromtarfile(tar)
        except _ShortStream:
            return None
        except (_tarfile.EmptyHeaderError, _tarfile.TruncatedHeaderError):
            return None
        except tarfile.HeaderError:
            continue
        except Exception:
            return None


def _trailing(tar: tarfile.TarFile) -> tuple[int, int] | None:
    """Read to the end after the end-of-archive marker: that checks a compressed stream's
    trailer (CRC, Adler) and finds data hidden after the archive. Returns (offset, bytes)
    of non-zero trailing data, if any."""
    fileobj = tar.fileobj
    assert fileobj is not None
    first_nonzero: int | None = None
    try:
        while data := fileobj.read(READ_CHUNK):
            if first_nonzero is None and data.strip(b"\x00"):
                first_nonzero = fileobj.tell() - len(data) + (len(data) - len(data.lstrip(b"\x00")))
    except Exception:
        return None  # the stream's own fault, if any, is reported by the caller
    if first_nonzero is None:
        return None
    return first_nonzero, fileobj.tell() - first_nonzero


def _drain(tar: tarfile.TarFile) -> None:
    """Skip to the next header, raising _ShortStream where the stream ends first."""
    fileobj = tar.fileobj
    assert fileobj is not None
    while (left := tar.offset - fileobj.tell()) > 0:
        data = fileobj.read(min(left, READ_CHUNK))
        if not data:
            raise _ShortStream(fileobj.tell())


def _member(
    tar: tarfile.TarFile,
    info: tarfile.TarInfo,
    walk: _Walk,
    namer: MemberNamer,
    fault: Callable[[], StreamFault | None],
    path_map: Callable[[str], str] | None,
) -> Iterator[Entry | Problem]:
    raw = info.name
    where = f"tar offset {info.offset}"
    named = namer.name(raw, is_dir=info.isdir(), offset=info.offset, where=where, remap=path_map)
    yield from named.problems
    if named.skip:
        return
    path = named.path
    meta: dict[str, Any] = {
        "tar_offset": info.offset,
        "uid": info.uid,
        "gid": info.gid,
    }
    if info.uname:
        meta["uname"] = printable(info.uname)
    if info.gname:
        meta["gname"] = printable(info.gname)
    times = {"mtime": float(info.mtime)} if isinstance(info.mtime, int | float) else {}
    link_target = None
    opener = None
    size: int | None = None
    if info.isreg():
        kind = EntryKind.FILE
        size = info.size
        if info.issparse():
            meta["sparse"] = True
            opener = _sparse_opener(tar, info, walk, path)
        else:
            end = info.offset_data + info.size
            opener = _stream_opener(walk, end, path, fault)
    elif info.isdir():
        kind = EntryKind.DIR
    elif info.issym():
        kind = EntryKind.SYMLINK
        link_target = printable(info.linkname)
        if _escapes(printable(raw).lstrip("/"), link_target):
            yield Problem(
                path,
                "acquire",
                f"symlink {path!r} points outside the archive ({link_target!r}); "
                "listed, not followed",
                info.offset,
                named.origin,
            )
    else:
        kind = EntryKind.OTHER
        type_name = _TYPE_NAMES.get(info.type, f"tar type {info.type!r}")
        meta["tar_type"] = type_name
        if info.islnk():
            link_target = namer.peek(info.linkname)
            yield Problem(
                path,
                "acquire",
                f"hard link {path!r} to {link_target!r}: listed as a link, content not read "
                f"(tar offset {info.offset})",
                info.offset,
                named.origin,
            )
        else:
            if info.ischr() or info.isblk():
                meta["device"] = [info.devmajor, info.devminor]
            yield Problem(
                path,
                "acquire",
                f"{type_name} {path!r} listed, never read (tar offset {info.offset})",
                info.offset,
                named.origin,
            )
    yield Entry(
        path=path,
        kind=kind,
        size=size,
        times=times,
        mode=info.mode,
        origin=named.origin,
        link_target=link_target,
        meta=meta,
        opener=opener,
    )


def _stream_opener(
    walk: _Walk, end: int, path: str, fault: Callable[[], StreamFault | None]
) -> Callable[[], BinaryIO]:
    token = walk.token
    start = walk.fileobj.tell()

    def opener() -> BinaryIO:
        if walk.token != token:
            raise OSError(f"{path}: the archive stream has moved past this entry")
        if walk.fileobj.tell() != start:
            raise OSError(f"{path}: already read once (this source is read in one pass)")
        return cast(BinaryIO, _MemberStream(walk, end, path, fault))

    return opener


def _sparse_opener(
    tar: tarfile.TarFile, info: tarfile.TarInfo, walk: _Walk, path: str
) -> Callable[[], BinaryIO]:
    token = walk.token

    def opener() -> BinaryIO:
        if walk.token != token:
            raise OSError(f"{path}: the archive stream has moved past this entry")
        inner = tar.extractfile(info)
        assert inner is not None
        return cast(BinaryIO, _SparseStream(cast(BinaryIO, inner), walk, token, path))

    return opener


class _SparseStream(io.RawIOBase):
    def __init__(self, inner: BinaryIO, walk: _Walk, token: int, path: str) -> None:
        self._inner, self._walk, self._token, self._path = inner, walk, token, path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._walk.token != self._token:
            raise OSError(f"{self._path}: the archive stream has moved past this entry")
        try:
            data = self._inner.read(min(len(buffer), READ_CHUNK))
        except tarfile.ReadError as exc:
            self._walk.short_seen = True
            raise EntryReadError(f"{self._path}: {exc}", self._walk.fileobj.tell())
        buffer[: len(data)] = data
        return len(data)


# --- the tar source ----------------------------------------------------------------------

_COMPRESSIONS: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)


def _is_tar_header(block: bytes) -> bool:
    if len(block) < BLOCK or not any(block[:BLOCK]):
        return False
    if block[257:262] == b"ustar":
        return True
    field = block[148:156].replace(b"\x00", b" ").strip()
    try:
        stored = int(field, 8)
    except ValueError:
        return False
    computed = sum(block[:148]) + 8 * 32 + sum(block[156:BLOCK])
    return stored == computed


class _GuardedReader(io.RawIOBase):
    """A decompressor whose errors become a recorded fault and end of data."""

    def __init__(self, raw: BinaryIO, decoded: BinaryIO, compression: str) -> None:
        self._raw, self._decoded, self._compression = raw, decoded, compression
        self.fault: StreamFault | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.fault is not None:
            return 0
        try:
            # read1: one decompression step per call, so a truncation raised by the next
            # step cannot swallow bytes already decoded.
            data = self._decoded.read1(min(len(buffer), 1 << 16))  # type: ignore[attr-defined]
        except EOFError:
            self.fault = StreamFault(
                f"{self._compression} stream truncated (ends at file offset {self._raw.tell()})",
                self._raw.tell(),
            )
            return 0
        except _DECODER_ERRORS as exc:
            self.fault = StreamFault(
                f"corrupt {self._compression} stream near file offset {self._raw.tell()}: {exc}",
                self._raw.tell(),
            )
            return 0
        buffer[: len(data)] = data
        return len(data)


def _decoder(raw: BinaryIO, compression: str | None) -> BinaryIO:
    if compression == "gzip":
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
    if compression == "bzip2":
        return cast(BinaryIO, bz2.BZ2File(raw, mode="rb"))
    if compression == "xz":
        return cast(BinaryIO, lzma.LZMAFile(raw, mode="rb"))
    return raw


def sniff_tar(path: Path) -> str | None:
    """'plain', 'gzip', 'bzip2' or 'xz' when ``path`` holds a tar, else None (by content)."""
    try:
        with open(path, "rb") as raw:
            head = raw.read(BLOCK)
            compression = next(
                (name for magic, name in _COMPRESSIONS if head.startswith(magic)), None
            )
            if compression is None:
                return "plain" if _is_tar_header(head) else None
            raw.seek(0)
            try:
                block = _decoder(cast(BinaryIO, raw), compression).read(BLOCK)
            except _DECODER_ERRORS:
                return None
            return compression if _is_tar_header(block) else None
    except OSError:
        return None


class TarSource(Source):
    """A tar (plain, gzip, bzip2 or xz) of a file system or of any folder.

    Sequential: entries are read in one forward pass and an entry's ``open()`` is valid
    only until the next entry is yielded. ``open()`` decides the layout by a first pass
    over the member names: for a plain tar that reads only the headers (data is seeked
    over); for a compressed tar it costs one decompression of the archive, stopping early
    as soon as an Android marker is seen.
    """

    kind: ClassVar[str] = "fs-extraction"
    sequential: ClassVar[bool] = True

    def __init__(self, location: str | os.PathLike[str]) -> None:
        super().__init__(str(location))
        self.path = Path(location)
        self.compression: str | None = None
        self.layout = Layout()

    @classmethod
    def probe(cls, path: Path) -> bool:
        return path.is_file() and sniff_tar(path) is not None

    def open(self) -> None:
        if not self.path.is_file():
            raise SourceUnavailable(f"{self.path}: not found or not a regular file")
        if not os.access(self.path, os.R_OK):
            raise SourceUnavailable(f"{self.path}: not readable")
        found = sniff_tar(self.path)
        if found is None:
            raise NotRecognised(f"{self.path}: not a tar archive")
        self.compression = None if found == "plain" else found
        names = self._names()
        try:
            self.layout = classify(names)
        finally:
            names.close()  # stopped early at an Android marker: release the file now
        kind = "fs-extraction" if self.layout.name != "generic" else "folder"
        self.kind = kind  # type: ignore[misc]  # per instance: decided by the content

    def _names(self) -> Generator[str, None, None]:
        with open(self.path, "rb") as raw:
            if self.compression is None:
                try:
                    tar = tarfile.open(fileobj=raw, mode="r:", tarinfo=_GuardedTarInfo)
                except Exception:
                    return
            else:
                stream = _GuardedReader(
                    cast(BinaryIO, raw),
                    _decoder(cast(BinaryIO, raw), self.compression),
                    self.compression,
                )
                try:
                    tar = tarfile.open(fileobj=stream, mode="r|", tarinfo=_GuardedTarInfo)
                except Exception:
                    return
            while True:
                try:
                    info = tar.next()
                except Exception:
                    return
                if info is None:
                    return
                cast(Any, tar).members.clear()
                yield info.name

    def describe(self) -> dict[str, Any]:
        facts = {
            "format": "tar",
            "compression": self.compression or "none",
            "layout": self.layout.name,
            "layout_pass": "headers only" if self.compression is None else "full decompression",
        }
        if self.layout.root:
            facts["android_root"] = self.layout.root
        return facts

    def entries(self) -> Iterator[Entry | Problem]:
        namer = MemberNamer(self.layout.normaliser())
        try:
            raw = open(self.path, "rb")
        except OSError as exc:
            yield Problem("", "open", f"{self.path}: {exc}")
            return
        with raw:
            if self.compression is None:
                yield from walk_tar_stream(
                    cast(BinaryIO, raw), namer=namer, location=str(self.path)
                )
                return
            stream = _GuardedReader(
                cast(BinaryIO, raw),
                _decoder(cast(BinaryIO, raw), self.compression),
                self.compression,
            )
            yield from walk_tar_stream(
                cast(BinaryIO, io.BufferedReader(stream, READ_CHUNK)),
                namer=namer,
                location=str(self.path),
                fault=lambda: stream.fault,
            )
