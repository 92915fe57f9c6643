"""Find every audio object in a byte range and cut it to its exact stored length.

The search runs all signatures in one Hyperscan pass when the optional ``hyperscan``
package is installed (about 4 GB/s here), else one compiled regular expression per
signature (each a C-speed scan that jumps with ``memchr`` on its first byte, about
350 MB/s for all of them together; ``VMF_NO_HYPERSCAN=1`` forces this path); candidates are
then checked structurally by their family's ``probe`` (cheap), and only objects that
are structurally plausible are decoded (expensive). ``decodes`` covers the whole object,
read in place, up to :data:`parsers.audio.decode.MAX_DECODE_SECONDS` of audio; a longer
object says how much was checked in ``extra['decode_checked_s']``.

Hits never overlap: the search resumes after the end of each hit, so an AMR stream
stored inside a WAV's data chunk, or MP3 frames inside an MP4, are not reported again.
"""

from __future__ import annotations

import hashlib
import heapq
import mmap
import os
import re
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from parsers.audio import aiff, amr, caf, flac, gsm, mp3, mp4, ogg, riff
from parsers.audio import decode as decoder
from parsers.audio.probe import Probe
from parsers.records import AudioRecord

DEFAULT_WINDOW = 64 << 20
DEFAULT_OVERLAP = 1 << 16

BufferLike = bytes | bytearray | memoryview | mmap.mmap
ProbeFunc = Callable[[memoryview, int], Probe | None]


@dataclass
class Hit:
    """One audio object found in a buffer."""

    offset: int  # into the buffer (plus base)
    length: int  # exact stored length
    container: str  # amr wav mp4 3gp ogg caf flac mp3 aiff qcp gsm raw
    codec: str | None
    truncated: bool  # structure says it continues past the end of the data
    decodes: bool
    duration_s: float | None
    sha256: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Signature:
    pattern: re.Pattern[bytes]
    size: int  # every match has this length
    delta: int  # where the object starts relative to the match
    probe: ProbeFunc


def _literal(magic: bytes, probe: ProbeFunc, delta: int = 0) -> _Signature:
    return _Signature(re.compile(re.escape(magic)), len(magic), delta, probe)


# Signatures sharing a first byte share one pattern, so each byte is scanned once per
# distinct first byte.
SIGNATURES: tuple[_Signature, ...] = (
    _literal(b"#!AMR", amr.probe),
    _Signature(re.compile(rb"R(?:IFF|F64)"), 4, 0, riff.probe),
    _literal(b"ID3", mp3.probe),
    _Signature(mp3.SYNC_RE, 3, 0, mp3.probe),
    _literal(b"ftyp", mp4.probe, -mp4.MAGIC_OFFSET),
    _literal(b"OggS", ogg.probe),
    _literal(b"fLaC", flac.probe),
    _literal(b"caff", caf.probe),
    _literal(b"FORM", aiff.probe),
)
_MAX_MAGIC = 16
# Candidate starts in order; the consumer sends the offset where the search may resume.
_Candidates = Generator[tuple[int, _Signature], int | None, None]


def _view(buf: BufferLike) -> memoryview:
    mv = memoryview(buf)
    return mv if mv.format == "B" and mv.ndim == 1 else mv.cast("B")


def _finish(
    mv: memoryview, pos: int, pr: Probe, base: int, decode: bool, container: str | None = None
) -> Hit:
    length = max(0, min(pr.length, len(mv) - pos))
    with mv[pos : pos + length] as part:
        sha = hashlib.sha256(part).hexdigest()
        extra = dict(pr.extra)
        decodes, duration, codec = False, None, pr.codec
        if decode and pr.plausible and length:
            d = decoder.check(part, pr.demuxer)
            decodes, duration = d.decodes, d.duration_s
            if not d.complete:
                extra["decode_checked_s"] = d.duration_s
                duration = None  # not known without decoding the rest
            codec = d.codec or codec
            if d.sample_rate:
                extra["sample_rate"] = d.sample_rate
            if d.channels:
                extra["channels"] = d.channels
            if d.error and not d.decodes:
                extra["decode_error"] = d.error
    return Hit(
        offset=base + pos,
        length=length,
        container=container or pr.container,
        codec=codec,
        truncated=pr.truncated,
        decodes=decodes,
        duration_s=duration,
        sha256=sha,
        extra=extra,
    )


def _re_candidates(mv: memoryview, start: int, stop: int) -> _Candidates:
    """Candidate starts in [start, stop) in order; ``send(resume)`` skips ahead."""
    n = len(mv)
    endpos = min(n, stop + _MAX_MAGIC)
    heap: list[tuple[int, int]] = []

    def push(i: int, at: int) -> None:
        sig = SIGNATURES[i]
        m = sig.pattern.search(mv, max(0, at - sig.delta), endpos)
        while m is not None:
            cand = m.start() + sig.delta
            if cand >= at:
                if cand < stop:
                    heapq.heappush(heap, (cand, i))
                return
            m = sig.pattern.search(mv, m.start() + 1, endpos)

    for i in range(len(SIGNATURES)):
        push(i, start)
    resume = start
    while heap:
        cand, i = heapq.heappop(heap)
        if cand < resume:
            push(i, resume)
            continue
        got = yield cand, SIGNATURES[i]
        if got is not None:
            resume = max(resume, got)
        push(i, max(cand + 1, resume))


_HS_CHUNK = 8 << 20
_HS_CAP = 1 << 16  # at most this many candidates held at once (hostile 0xFFFB floods)


_HS_LOCAL = threading.local()


def _hs_database() -> Any:
    """A Hyperscan database of all signatures, when the optional package is installed.

    One per thread: a database's scratch space must not be shared by concurrent scans.
    """
    if os.environ.get("VMF_NO_HYPERSCAN"):
        return None
    db = getattr(_HS_LOCAL, "db", False)
    if db is False:
        try:
            import hyperscan
        except ImportError:
            db = None
        else:
            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            exprs = [sig.pattern.pattern for sig in SIGNATURES]
            db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs))
        _HS_LOCAL.db = db
    return db


def _hs_candidates(db: Any, mv: memoryview, start: int, stop: int) -> _Candidates:
    """As :func:`_re_candidates`, one Hyperscan pass per chunk; skipped ranges not scanned."""
    import hyperscan

    n = len(mv)
    pos = start
    resume = start
    while pos < stop:
        chunk_stop = min(stop, pos + _HS_CHUNK)
        hi = min(n, chunk_stop + _MAX_MAGIC)
        found: list[tuple[int, int]] = []
        base = pos

        def on_match(
            i: int, _from: int, to: int, _flags: int, _ctx: object, found=found, base=base
        ) -> bool:
            sig = SIGNATURES[i]
            found.append((base + to - sig.size + sig.delta, i))
            return len(found) >= _HS_CAP

        with mv[pos:hi] as part:
            try:
                db.scan(part, match_event_handler=on_match)
            except hyperscan.ScanTerminated:
                last = max(c for c, _ in found)
                chunk_stop = min(chunk_stop, max(pos + 1, last - _MAX_MAGIC))
        found.sort()
        for cand, i in found:
            if cand < pos or cand < resume:
                continue
            if cand >= chunk_stop:
                break
            got = yield cand, SIGNATURES[i]
            if got is not None:
                resume = max(resume, got)
                if resume >= chunk_stop:
                    break
        pos = max(chunk_stop, resume)


def _candidates(mv: memoryview, start: int, stop: int) -> _Candidates:
    db = _hs_database()
    if db is None:
        return _re_candidates(mv, start, stop)
    return _hs_candidates(db, mv, start, stop)


def _clamp(mv: memoryview, pos: int, pr: Probe) -> Probe:
    """Cut an object whose end is not confirmed (truncated, or a size the chunks do not
    bear out) at the first structurally plausible object that starts inside it: those
    bytes belong to something else (the file was cut or overwritten there), and one
    lying size field must not hide every object after it."""
    if not pr.soft_end or pr.length <= 1:
        return pr
    end = pos + pr.length
    for q, sig in _candidates(mv, pos + 1, end):
        if sig.pattern is mp3.SYNC_RE:
            continue  # bare MPEG frames are what a WAV or MP4 with MP3 audio holds
        try:
            other = sig.probe(mv, q)
        except Exception:
            other = None
        if other is not None and other.plausible:
            pr.extra["cut_at_next_object"] = True
            pr.length = q - pos
            pr.truncated = True
            return pr
    return pr


def _scan(
    mv: memoryview,
    start: int,
    stop: int,
    *,
    base: int,
    decode: bool,
    extend: Callable[[int, _Signature], Hit | None] | None = None,
    problems: list[tuple[int, str]] | None = None,
) -> Iterator[Hit]:
    gen = _candidates(mv, start, stop)
    resume: int | None = None
    while True:
        try:
            pos, sig = gen.send(resume)
        except StopIteration:
            return
        resume = None
        try:
            pr = sig.probe(mv, pos)
        except Exception as exc:  # a bug meeting hostile bytes: say where, go on
            if problems is not None:
                problems.append((base + pos, f"{sig.probe.__module__}: {exc!r}"))
            pr = None
        if pr is None or pr.length <= 0:
            continue
        hit = None
        if extend is not None and (pr.truncated or pos + pr.length >= len(mv)):
            # the view ended inside the object, or exactly where it might go on: look
            # again over the rest of the file
            hit = extend(pos, sig)
        if hit is None:
            hit = _finish(mv, pos, _clamp(mv, pos, pr), base, decode)
        resume = hit.offset - base + max(1, hit.length)
        yield hit


def carve(
    buf: BufferLike,
    *,
    base: int = 0,
    decode: bool = True,
    limit: int | None = None,
    problems: list[tuple[int, str]] | None = None,
) -> list[Hit]:
    """Every audio object in ``buf``, in offset order, non-overlapping.

    ``problems``, when given, collects (offset, message) for candidates whose structure
    could not be read (never expected; the scan goes on past them).
    """
    with _view(buf) as mv:
        hits: list[Hit] = []
        for hit in _scan(mv, 0, len(mv), base=base, decode=decode, problems=problems):
            hits.append(hit)
            if limit is not None and len(hits) >= limit:
                break
        return hits


def identify(data: bytes, *, assume: str | None = None, decode: bool = True) -> Hit | None:
    """The audio object starting exactly at offset 0 of ``data``, or None.

    ``assume="gsm"`` also tries raw GSM 06.10 frames (no magic, so never guessed).
    """
    with _view(data) as mv:
        for sig in SIGNATURES:
            if sig.pattern.match(mv, -sig.delta if sig.delta < 0 else 0) is None:
                continue
            try:
                pr = sig.probe(mv, 0)
            except Exception:
                pr = None
            if pr is not None and pr.length > 0:
                return _finish(mv, 0, pr, 0, decode)
        if assume == "gsm":
            pr = gsm.probe(mv, 0)
            if pr is not None:
                return _finish(mv, 0, pr, 0, decode)
    return None


def carve_file(
    path: str | os.PathLike[str],
    *,
    window: int = DEFAULT_WINDOW,
    overlap: int = DEFAULT_OVERLAP,
    decode: bool = True,
    start: int = 0,
    stop: int | None = None,
    on_window: Callable[[memoryview], None] | None = None,
    problems: list[tuple[int, str]] | None = None,
) -> Iterator[Hit]:
    """Hits in a file of any size, read through mmap windows (offsets are file offsets).

    Each window is mapped, searched and unmapped, so memory stays bounded by the window
    (plus the object being hashed or decoded). An object that runs past its window (or
    ends exactly where the mapped view ends) is probed again from its start over the
    rest of the file, so its length is exact.

    ``start``/``stop`` restrict where objects may *start* (they may end past ``stop``),
    so a pool can split one file between workers; a worker's first hits may then lie
    inside an object that the previous range's worker reports whole: drop those.
    ``on_window`` gets every byte of [start, stop) once, in order, as the scan reads it
    (to hash the file in the same pass); it must not keep the view. ``problems`` as for
    :func:`carve`, with file offsets.
    """
    if window < 1:
        raise ValueError("window must be positive")
    overlap = max(overlap, _MAX_MAGIC)
    gran = mmap.ALLOCATIONGRANULARITY
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)  # also right for block devices (st_size is 0)
        end = size if stop is None else max(0, min(size, stop))
        resume = max(0, start)
        w = resume
        while w < end:
            wstop = min(end, w + window)
            map_off = (w // gran) * gran
            map_end = min(size, wstop + overlap)
            mm = mmap.mmap(f.fileno(), map_end - map_off, offset=map_off, access=mmap.ACCESS_READ)
            try:
                mm.madvise(mmap.MADV_SEQUENTIAL)
            except (AttributeError, OSError):
                pass

            def extend(
                pos: int, sig: _Signature, map_off: int = map_off, map_end: int = map_end
            ) -> Hit | None:
                if map_end >= size:
                    return None
                at = map_off + pos
                o = (at // gran) * gran
                big = mmap.mmap(f.fileno(), size - o, offset=o, access=mmap.ACCESS_READ)
                try:
                    with memoryview(big) as bmv:
                        pr = sig.probe(bmv, at - o)
                        if pr is None:
                            return None
                        return _finish(bmv, at - o, _clamp(bmv, at - o, pr), o, decode)
                finally:
                    big.close()

            try:
                with memoryview(mm) as mv:
                    if on_window is not None:
                        with mv[w - map_off : wstop - map_off] as fresh:
                            on_window(fresh)
                    if resume < wstop:
                        for hit in _scan(
                            mv,
                            max(w, resume) - map_off,
                            wstop - map_off,
                            base=map_off,
                            decode=decode,
                            extend=extend,
                            problems=problems,
                        ):
                            resume = hit.offset + max(1, hit.length)
                            yield hit
            finally:
                mm.close()
            w = wstop


def to_record(
    hit: Hit, path: str, *, locator: str | None = None, package: str | None = None
) -> AudioRecord:
    return AudioRecord(
        path=path,
        offset=hit.offset,
        length=hit.length,
        container=hit.container,
        codec=hit.codec,
        sha256=hit.sha256,
        size=hit.length,
        decodes=hit.decodes,
        truncated=hit.truncated,
        duration_s=hit.duration_s,
        locator=locator,
        package=package,
        extra=dict(hit.extra),
    )


# --- header-less AMR (AT&T's follow-on parts, §2.5 of the reference) -------------------


def _amr_run_patterns(wide: bool, min_frames: int) -> list[tuple[int, re.Pattern[bytes]]]:
    key = (wide, min_frames)
    if key not in _RUN_CACHE:
        sizes = amr.WB_SIZES if wide else amr.NB_SIZES
        speech = amr.WB_SPEECH if wide else amr.NB_SPEECH
        pats = []
        for ft in speech:
            h = re.escape(bytes([(ft << 3) | 0x04]))
            body = rb"(?:.{%d}%s){%d}" % (sizes[ft] - 1, h, min_frames - 1)
            pats.append((ft, re.compile(h + body, re.S)))
        _RUN_CACHE[key] = pats
    return _RUN_CACHE[key]


_RUN_CACHE: dict[tuple[bool, int], list[tuple[int, re.Pattern[bytes]]]] = {}


def headerless_amr(
    buf: BufferLike,
    *,
    wide: bool | None = None,
    min_frames: int = 25,
    base: int = 0,
    decode: bool = True,
) -> list[Hit]:
    """Runs of at least ``min_frames`` consistent AMR frames with no magic before them.

    A run is seeded by ``min_frames`` speech frames of one mode at the exact spacing,
    extended backwards over frames of that mode and forwards by the normal frame walk
    (SID/NO_DATA allowed). Container ``raw``; ``sha256`` covers the frames as stored;
    ``decodes`` is checked by decoding the frames with the magic prepended in memory.
    """
    if min_frames < 2:
        raise ValueError("min_frames must be at least 2")
    kinds = [False, True] if wide is None else [wide]
    found: list[tuple[int, int, bool, int, bool]] = []
    with _view(buf) as mv:
        n = len(mv)
        for w in kinds:
            sizes = amr.WB_SIZES if w else amr.NB_SIZES
            for ft, pat in _amr_run_patterns(w, min_frames):
                size = sizes[ft]
                h = (ft << 3) | 0x04
                pos = 0
                while pos < n:
                    m = pat.search(mv, pos)
                    if m is None:
                        break
                    s = m.start()
                    while s - size >= 0 and mv[s - size] == h:
                        s -= size
                    end, frames, _speech, truncated = amr.walk(mv, s, w)
                    if frames < min_frames:
                        pos = m.start() + 1
                        continue
                    found.append((s, end, w, frames, truncated))
                    pos = max(end, m.start() + 1)
        # Keep the longest of overlapping runs (NB and WB readings of the same bytes).
        found.sort(key=lambda t: (-(t[1] - t[0]), t[0]))
        taken: list[tuple[int, int]] = []
        hits = []
        for s, e, w, frames, truncated in found:
            if any(s < te and ts < e for ts, te in taken):
                continue
            taken.append((s, e))
            with mv[s:e] as part:
                magic = amr.MAGIC_WB if w else amr.MAGIC_NB
                sha = hashlib.sha256(part).hexdigest()
                decodes, duration = False, None
                extra: dict[str, Any] = {
                    "frames": frames,
                    "headerless": True,
                    "sample_rate": 16000 if w else 8000,
                    "channels": 1,
                }
                if decode:
                    d = decoder.check(magic + bytes(part), "amr")
                    decodes, duration = d.decodes, d.duration_s
                    if not d.complete:
                        extra["decode_checked_s"] = d.duration_s
                        duration = None
            hits.append(
                Hit(
                    offset=base + s,
                    length=e - s,
                    container="raw",
                    codec="amr-wb" if w else "amr-nb",
                    truncated=truncated,
                    decodes=decodes,
                    duration_s=duration,
                    sha256=sha,
                    extra=extra,
                )
            )
    hits.sort(key=lambda h: h.offset)
    return hits


def raw_gsm(
    buf: BufferLike, *, base: int = 0, min_frames: int = 50, decode: bool = True
) -> list[Hit]:
    """Runs of raw GSM 06.10 frames, for callers that expect them (no magic to search)."""
    if min_frames < 1:
        raise ValueError("min_frames must be at least 1")
    pat = re.compile(rb"[\xd0-\xdf](?:.{32}[\xd0-\xdf]){%d}" % (min_frames - 1), re.S)
    hits: list[Hit] = []
    with _view(buf) as mv:
        n = len(mv)
        pos = 0
        while pos < n:
            m = pat.search(mv, pos)
            if m is None:
                break
            pr = gsm.probe(mv, m.start(), min_frames)
            if pr is None:  # cannot happen after the match; advance regardless
                pos = m.start() + 1
                continue
            hits.append(_finish(mv, m.start(), pr, base, decode))
            pos = m.start() + max(1, pr.length)
    return hits
