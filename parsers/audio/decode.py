"""Confirm a carved object by decoding it with FFmpeg (PyAV), from memory.

``decodes`` is True only when the forced demuxer opens the bytes, the first audio stream
decodes packet after packet to the end without an error, and at least one frame comes
out. What is decoded is exactly the object's bytes, read in place (no copy) through
:class:`ViewReader`. Decoding stops after :data:`MAX_DECODE_SECONDS` of audio (half an
hour; voicemail is minutes): an object that long is reported ``decodes`` on that much,
and says so (``Decoded.complete`` False, the carver's ``extra['decode_checked_s']``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import av.logging

# FFmpeg's own log lines must not reach the user's terminal. PyAV's default (None)
# already keeps them off stderr; make that explicit for callers that changed it.
av.logging.set_level(None)

CODECS = {
    "amrnb": "amr-nb",
    "amr_nb": "amr-nb",
    "libopencore_amrnb": "amr-nb",
    "amrwb": "amr-wb",
    "amr_wb": "amr-wb",
    "libopencore_amrwb": "amr-wb",
    "aac": "aac",
    "aac_fixed": "aac",
    "alac": "alac",
    "opus": "opus",
    "libopus": "opus",
    "vorbis": "vorbis",
    "libvorbis": "vorbis",
    "mp3": "mp3",
    "mp3float": "mp3",
    "flac": "flac",
    "gsm": "gsm",
    "gsm_ms": "gsm",
    "pcm_mulaw": "mulaw",
    "pcm_alaw": "alaw",
    "qcelp": "qcelp",
}


def codec_name(ffmpeg_name: str) -> str | None:
    """FFmpeg's decoder name in the schema's codec vocabulary (None when it has no word)."""
    if ffmpeg_name in CODECS:
        return CODECS[ffmpeg_name]
    if ffmpeg_name.startswith("pcm_"):
        return "pcm"
    if ffmpeg_name.startswith("adpcm_"):
        return "adpcm"
    return None


MAX_DECODE_SECONDS = 1800.0


class ViewReader(io.RawIOBase):
    """A read-only, seekable file over a buffer (an mmap slice), without copying it."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = memoryview(view)  # our own view: released on close, whatever holds us
        self._pos = 0

    def close(self) -> None:
        if not self.closed:
            self._view.release()
        super().close()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = max(0, min(len(b), len(self._view) - self._pos))
        b[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def read(self, size: int = -1) -> bytes:
        end = (
            len(self._view) if size is None or size < 0 else min(len(self._view), self._pos + size)
        )
        data = bytes(self._view[self._pos : end]) if end > self._pos else b""
        self._pos = max(self._pos, end)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = len(self._view) + offset
        else:
            raise ValueError(f"bad whence {whence}")
        if pos < 0:
            raise OSError("seek before start")
        self._pos = pos
        return pos

    def tell(self) -> int:
        return self._pos


@dataclass(frozen=True)
class Decoded:
    decodes: bool
    duration_s: float | None
    codec: str | None
    sample_rate: int | None
    channels: int | None
    frames: int
    error: str | None = None
    complete: bool = True  # False when decoding stopped at MAX_DECODE_SECONDS


def check(
    data: bytes | memoryview,
    demuxer: str | None = None,
    max_seconds: float | None = None,
) -> Decoded:
    """Decode ``data`` end to end (up to ``max_seconds``, by default
    :data:`MAX_DECODE_SECONDS`); never raises for bad content."""
    limit = MAX_DECODE_SECONDS if max_seconds is None else max_seconds
    codec = None
    rate = channels = None
    frames = samples = 0
    complete = True
    source = ViewReader(memoryview(data))
    try:
        with av.open(source, mode="r", format=demuxer) as container:
            if not container.streams.audio:
                return Decoded(False, None, None, None, None, 0, "no audio stream")
            stream = container.streams.audio[0]
            ctx = stream.codec_context
            codec = codec_name(ctx.name)
            rate = ctx.sample_rate or None
            channels = ctx.channels or None
            for frame in container.decode(stream):
                frames += 1
                samples += frame.samples
                rate = frame.sample_rate or rate
                if rate and samples / rate >= limit:
                    complete = False
                    break
    except Exception as exc:  # PyAV raises many types for hostile bytes; none may escape
        return Decoded(False, None, codec, rate, channels, frames, f"{type(exc).__name__}: {exc}")
    finally:
        source.close()
    duration = round(samples / rate, 6) if rate and frames else None
    return Decoded(frames > 0, duration, codec, rate, channels, frames, None, complete)
