"""Real audio made at test time with PyAV (FFmpeg's encoders and muxers), in memory.

Imported by the carving tests (not collected: no ``test_`` prefix). The signal is a
voice-like mix of tones with a little deterministic noise, so every codec has work to do.
"""

from __future__ import annotations

import io
import math
import random
import struct
from functools import cache
from pathlib import Path

import av

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
CORPUS = SHARED / "corpus" / "audio"


def corpus_file(rel: str) -> Path | None:
    p = CORPUS / rel
    return p if p.is_file() else None


def _pcm(rate: int, seconds: float, channels: int) -> bytes:
    rng = random.Random(rate * 7 + channels)
    n = int(rate * seconds)
    out = bytearray()
    for i in range(n):
        t = i / rate
        v = 0.3 * math.sin(2 * math.pi * 220 * t) + 0.2 * math.sin(2 * math.pi * 570 * t)
        v *= 0.6 + 0.4 * math.sin(2 * math.pi * 3 * t)
        v += rng.uniform(-0.02, 0.02)
        s = int(max(-1.0, min(1.0, v)) * 20000)
        out += struct.pack("<h", s) * channels
    return bytes(out)


# name -> (muxer, encoder, sample rate, channels, options, container, codec)
SPECS: dict[str, tuple[str, str, int, int, dict, str, str]] = {
    "amr-nb": ("amr", "libopencore_amrnb", 8000, 1, {}, "amr", "amr-nb"),
    "aac-m4a": ("ipod", "aac", 16000, 1, {}, "mp4", "aac"),
    "aac-3gp": ("3gp", "aac", 16000, 1, {}, "3gp", "aac"),
    "amr-3gp": ("3gp", "libopencore_amrnb", 8000, 1, {}, "3gp", "amr-nb"),
    "opus-ogg": ("ogg", "libopus", 48000, 1, {}, "ogg", "opus"),
    "vorbis-ogg": ("ogg", "vorbis", 16000, 2, {"strict": "-2"}, "ogg", "vorbis"),
    "mp3": ("mp3", "libmp3lame", 44100, 1, {}, "mp3", "mp3"),
    "mp3-8k": ("mp3", "libmp3lame", 8000, 1, {}, "mp3", "mp3"),
    "flac": ("flac", "flac", 16000, 1, {}, "flac", "flac"),
    "wav-pcm": ("wav", "pcm_s16le", 8000, 1, {}, "wav", "pcm"),
    "wav-mulaw": ("wav", "pcm_mulaw", 8000, 1, {}, "wav", "mulaw"),
    "wav-alaw": ("wav", "pcm_alaw", 8000, 1, {}, "wav", "alaw"),
    "wav-adpcm": ("wav", "adpcm_ima_wav", 8000, 1, {}, "wav", "adpcm"),
    "aiff": ("aiff", "pcm_s16be", 8000, 1, {}, "aiff", "pcm"),
    "aifc-mulaw": ("aiff", "pcm_mulaw", 8000, 1, {}, "aiff", "mulaw"),
    "wav-rf64": ("wav", "pcm_s16le", 8000, 1, {}, "wav", "pcm"),
    "caf": ("caf", "pcm_s16le", 8000, 1, {}, "caf", "pcm"),
    "caf-alac": ("caf", "alac", 16000, 1, {}, "caf", "alac"),
    "caf-amr": ("caf", "libopencore_amrnb", 8000, 1, {}, "caf", "amr-nb"),
    "flac-ogg": ("ogg", "flac", 16000, 1, {}, "ogg", "flac"),
    "alac-m4a": ("ipod", "alac", 16000, 1, {}, "mp4", "alac"),
    "mp3-wav": ("wav", "libmp3lame", 8000, 1, {}, "wav", "mp3"),
    "mp3-mp4": ("mp4", "libmp3lame", 16000, 1, {}, "mp4", "mp3"),
}


MUXER_OPTIONS = {"wav-rf64": {"rf64": "always"}}


@cache
def make(name: str, seconds: float = 1.5) -> bytes:
    muxer, encoder, rate, channels, options, _container, _codec = SPECS[name]
    pcm = _pcm(rate, seconds, channels)
    layout = "mono" if channels == 1 else "stereo"
    out = io.BytesIO()
    with av.open(out, "w", format=muxer, options=MUXER_OPTIONS.get(name, {})) as c:
        s = c.add_stream(encoder, rate=rate, layout=layout)
        if options:
            s.codec_context.options = dict(options)
        chunk = 1024
        total = len(pcm) // (2 * channels)
        pts = 0
        while pts < total:
            n = min(chunk, total - pts)
            frame = av.AudioFrame(format="s16", layout=layout, samples=n)
            frame.planes[0].update(pcm[pts * 2 * channels : (pts + n) * 2 * channels])
            frame.sample_rate = rate
            frame.pts = pts
            pts += n
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode(None):
            c.mux(packet)
    return out.getvalue()
