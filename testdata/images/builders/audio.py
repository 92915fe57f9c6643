"""Real audio for the synthetic images, encoded with PyAV from a generated signal.

The signal is a deterministic, speech-like tone sweep (no recordings of anyone), so the
same PyAV/FFmpeg versions give byte-identical files. ``VERSIONS`` names what encodes.
"""

from __future__ import annotations

import io
import math
from array import array

import av

SAMPLE_RATE = 8000


def versions() -> dict[str, str]:
    return {
        "av": av.__version__,
        "libavcodec": ".".join(map(str, av.library_versions["libavcodec"])),
    }


def voice_pcm(seconds: float, seed: int, rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono PCM of a syllable-like, amplitude-modulated harmonic sweep."""
    n = int(seconds * rate)
    base = 110.0 + 17.0 * (seed % 7)
    out = array("h")
    for i in range(n):
        t = i / rate
        pitch = base * (1.0 + 0.15 * math.sin(2 * math.pi * 0.7 * t + seed))
        syllable = max(0.0, math.sin(2 * math.pi * (2.5 + 0.3 * (seed % 3)) * t)) ** 0.6
        value = sum(math.sin(2 * math.pi * pitch * k * t) / k for k in (1, 2, 3, 4))
        out.append(int(9000 * syllable * value / 2.1))
    return out.tobytes()


def encode(
    pcm: bytes,
    *,
    fmt: str,
    codec: str,
    rate: int = SAMPLE_RATE,
    bit_rate: int | None = None,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> bytes:
    """Encode mono s16 PCM into ``fmt`` with ``codec``, in memory (``container_options``
    such as ``{"fflags": "+bitexact"}`` go to the muxer)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt, container_options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=rate, options=options or {})
        stream.layout = "mono"
        if bit_rate:
            stream.bit_rate = bit_rate
        frame_samples = stream.codec_context.frame_size or 160
        sample_bytes = 2
        step = frame_samples * sample_bytes
        pts = 0
        for start in range(0, len(pcm), step):
            chunk = pcm[start : start + step]
            if len(chunk) < step:
                chunk = chunk + b"\x00" * (step - len(chunk))
            frame = av.AudioFrame(format="s16", layout="mono", samples=frame_samples)
            frame.planes[0].update(chunk)
            frame.sample_rate = rate
            frame.pts = pts
            pts += frame_samples
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


def amr_nb(seconds: float, seed: int) -> bytes:
    """AMR-NB storage format (``#!AMR\\n``), 12.2 kbit/s."""
    return encode(voice_pcm(seconds, seed), fmt="amr", codec="libopencore_amrnb", bit_rate=12200)
