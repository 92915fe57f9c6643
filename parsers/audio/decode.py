"""Confirm a carved object by decoding it with FFmpeg (PyAV), from memory.

``decodes`` is True only when the forced demuxer opens the bytes, the first audio stream
decodes packet after packet to the end without an error, and at least one frame comes
out. What is decoded is exactly the bytes given: the carver passes the whole object, or
its first :data:`parsers.audio.carve.DECODE_LIMIT` bytes for larger ones (and says so in
the hit's ``extra['decode_checked_bytes']``).
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


@dataclass(frozen=True)
class Decoded:
    decodes: bool
    duration_s: float | None
    codec: str | None
    sample_rate: int | None
    channels: int | None
    frames: int
    error: str | None = None


def check(data: bytes, demuxer: str | None = None) -> Decoded:
    """Decode ``data`` end to end; never raises for bad content."""
    codec = None
    rate = channels = None
    frames = samples = 0
    try:
        with av.open(io.BytesIO(data), mode="r", format=demuxer) as container:
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
    except Exception as exc:  # PyAV raises many types for hostile bytes; none may escape
        return Decoded(False, None, codec, rate, channels, frames, f"{type(exc).__name__}: {exc}")
    duration = round(samples / rate, 6) if rate and frames else None
    return Decoded(frames > 0, duration, codec, rate, channels, frames)
