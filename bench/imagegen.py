"""The synthetic image: pseudo-random filler with known audio files embedded in it.

Every embedded file is real, decodable audio encoded here (PyAV/FFmpeg, VisualOn's
AMR-WB encoder, SoX's GSM 06.10) from a deterministic speech-like signal with seeded
dither, so no two files share their first bytes and the same seed gives the same image.
Half the files start on a 512-byte sector boundary, half do not: sector-bound carvers
(photorec) only look at sector starts, and voicemail in SQLite blobs, concatenated
caches or memory dumps sits anywhere.

The ground truth (offset, length, SHA-256, format, aligned) is written next to the image
as JSON; the image itself is never needed to score a run, only to carve.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))

from testdata.images.builders import codecs  # noqa: E402

SECTOR = 512
FILL_CHUNK = 64 << 20


@dataclass(frozen=True)
class Truth:
    """One embedded file: where it is and what it is."""

    index: int
    offset: int
    length: int
    sha256: str
    format: str  # variant label, e.g. "amr-nb", "wav-gsm", "mp3-8k-notag"
    container: str  # family as vmforensics names it (amr wav mp3 mp4 3gp ogg flac aiff caf qcp)
    aligned: bool


# --- signal ----------------------------------------------------------------------------


def voice(seconds: float, seed: int, rate: int) -> bytes:
    """16-bit mono PCM: a syllable-like harmonic sweep plus seeded dither (unique files)."""
    n = int(seconds * rate)
    t = np.arange(n, dtype=np.float64) / rate
    base = 110.0 + 17.0 * (seed % 7)
    pitch = base * (1.0 + 0.15 * np.sin(2 * np.pi * 0.7 * t + seed))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    syllable = np.maximum(0.0, np.sin(2 * np.pi * (2.5 + 0.3 * (seed % 3)) * t + 0.3)) ** 0.6
    value = sum(np.sin(k * phase) / k for k in (1, 2, 3, 4))
    rng = np.random.default_rng(seed)
    pcm = 9000 * syllable * value / 2.1 + rng.normal(0.0, 300.0, n)
    return np.clip(pcm, -32768, 32767).astype("<i2").tobytes()


def encode(
    pcm: bytes,
    *,
    fmt: str,
    codec: str,
    rate: int,
    bit_rate: int | None = None,
    title: str | None = None,
    container_options: dict[str, str] | None = None,
    codec_options: dict[str, str] | None = None,
    channels: int = 1,
) -> bytes:
    """Encode mono s16 PCM into ``fmt`` with ``codec``, in memory (PyAV resamples).

    ``channels=2`` duplicates the signal: FFmpeg's own Vorbis encoder is stereo-only.
    """
    layout = "stereo" if channels == 2 else "mono"
    if channels == 2:
        pcm = np.repeat(np.frombuffer(pcm, "<i2"), 2).tobytes()
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt, options=container_options or {}) as container:
        if title:
            container.metadata["title"] = title
        stream = container.add_stream(codec, rate=rate, options=codec_options or {})
        stream.layout = layout
        if bit_rate:
            stream.bit_rate = bit_rate
        frame_samples = stream.codec_context.frame_size or 1024
        step = frame_samples * 2 * channels
        pts = 0
        for start in range(0, len(pcm), step):
            chunk = pcm[start : start + step].ljust(step, b"\x00")
            frame = av.AudioFrame(format="s16", layout=layout, samples=frame_samples)
            frame.planes[0].update(chunk)
            frame.sample_rate = rate
            frame.pts = pts
            pts += frame_samples
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


# --- the variants ------------------------------------------------------------------------

Maker = Callable[[float, int, str], bytes]  # (seconds, seed, title) -> file bytes

NO_ID3 = {"id3v2_version": "0", "write_id3v1": "0", "write_xing": "0"}


def _pyav(fmt: str, codec: str, rate: int, **kw: object) -> Maker:
    def make(seconds: float, seed: int, title: str) -> bytes:
        return encode(
            voice(seconds, seed, rate), fmt=fmt, codec=codec, rate=rate, title=title, **kw
        )  # type: ignore[arg-type]

    return make


def _qcp(seconds: float, seed: int, title: str) -> bytes:
    # No free QCELP encoder exists; the corpus's real QCP file is embedded as it is.
    return (SHARED / "corpus" / "audio" / "file-type" / "fixture.qcp").read_bytes()


VARIANTS: dict[str, tuple[str, Maker]] = {
    "amr-nb": ("amr", _pyav("amr", "libopencore_amrnb", 8000, bit_rate=12200)),
    "amr-wb": ("amr", lambda s, seed, t: codecs.amr_wb(voice(s, seed, 16000))),
    "wav-pcm": ("wav", lambda s, seed, t: codecs.pcm_wav(voice(s, seed, 8000))),
    "wav-mulaw": ("wav", _pyav("wav", "pcm_mulaw", 8000)),
    "wav-alaw": ("wav", _pyav("wav", "pcm_alaw", 8000)),
    "wav-gsm": ("wav", lambda s, seed, t: codecs.gsm_wav49(voice(s, seed, 8000))),
    "wav-adpcm": ("wav", _pyav("wav", "adpcm_ima_wav", 8000)),
    "mp3-16k": ("mp3", _pyav("mp3", "libmp3lame", 16000, bit_rate=32000)),
    "mp3-8k": ("mp3", _pyav("mp3", "libmp3lame", 8000, bit_rate=16000)),
    "mp3-8k-notag": (
        "mp3",
        _pyav("mp3", "libmp3lame", 8000, bit_rate=16000, container_options=NO_ID3),
    ),
    "m4a-aac": ("mp4", _pyav("ipod", "aac", 16000, bit_rate=32000)),
    "3gp-amr": ("3gp", _pyav("3gp", "libopencore_amrnb", 8000, bit_rate=12200)),
    "ogg-opus": ("ogg", _pyav("ogg", "libopus", 16000, bit_rate=24000)),
    "ogg-vorbis": (
        "ogg",
        _pyav("ogg", "vorbis", 16000, codec_options={"strict": "experimental"}, channels=2),
    ),
    "flac": ("flac", _pyav("flac", "flac", 8000)),
    "aiff": ("aiff", _pyav("aiff", "pcm_s16be", 8000)),
    "caf": ("caf", _pyav("caf", "pcm_s16le", 8000)),
    "qcp": ("qcp", _qcp),
}


def available_variants() -> list[str]:
    names = list(VARIANTS)
    if not (SHARED / "corpus" / "audio" / "file-type" / "fixture.qcp").is_file():
        names.remove("qcp")
    return names


# --- the image ---------------------------------------------------------------------------


def plan(
    size: int, files: int, seed: int, max_seconds: float
) -> list[tuple[int, str, float, bool]]:
    """(slot start, variant, seconds, aligned) per file; one file per equal slot."""
    rng = np.random.default_rng(seed)
    names = available_variants()
    out = []
    slot = slot_size(size, files)
    for i in range(files):
        variant = names[i % len(names)]
        seconds = float(rng.uniform(3.0, max_seconds))
        aligned = (i + i // len(names)) % 2 == 0  # each variant both ways
        out.append((i * slot, variant, round(seconds, 2), aligned))
    return out


def slot_size(size: int, files: int) -> int:
    return (size // files) // SECTOR * SECTOR


def build(
    image: Path, *, size: int, files: int, seed: int = 4, max_seconds: float = 40.0, log=print
) -> list[Truth]:
    """Write the image and return its ground truth (also written to ``truth_path``)."""
    slot = slot_size(size, files)
    rng = np.random.default_rng(seed + 1)
    payloads: list[tuple[int, bytes, str, bool]] = []
    for i, (start, variant, seconds, aligned) in enumerate(plan(size, files, seed, max_seconds)):
        data = VARIANTS[variant][1](seconds, seed * 100_000 + i, f"vmf-bench-{i:04d}")
        room = slot - len(data) - 1
        if room < SECTOR * 2:
            raise ValueError(f"file {i} ({variant}, {len(data)} bytes) does not fit a slot")
        pos = int(rng.integers(0, room))
        if aligned:
            pos -= pos % SECTOR
        elif pos % SECTOR == 0:
            pos += 1 + int(rng.integers(0, SECTOR - 2))
        payloads.append((start + pos, data, variant, aligned))
    image.parent.mkdir(parents=True, exist_ok=True)
    fill = np.random.default_rng(seed + 2)
    with open(image, "wb") as f:
        for start in range(0, size, FILL_CHUNK):
            f.write(fill.bytes(min(FILL_CHUNK, size - start)))
        truths = []
        for i, (offset, data, variant, aligned) in enumerate(payloads):
            f.seek(offset)
            f.write(data)
            digest = hashlib.sha256(data).hexdigest()
            family = VARIANTS[variant][0]
            truths.append(Truth(i, offset, len(data), digest, variant, family, aligned))
    truth_path(image).write_text(
        json.dumps(
            {"size": size, "files": files, "seed": seed, "truth": [asdict(t) for t in truths]},
            indent=1,
        )
    )
    log(f"image {image}: {size} bytes, {files} files")
    return truths


def truth_path(image: Path) -> Path:
    return image.with_name(image.name + ".truth.json")


def load_truth(image: Path) -> tuple[dict, list[Truth]]:
    doc = json.loads(truth_path(image).read_text())
    return doc, [Truth(**t) for t in doc["truth"]]


def reusable(image: Path, size: int, files: int, seed: int) -> bool:
    try:
        doc, _ = load_truth(image)
    except (OSError, ValueError, KeyError):
        return False
    return (
        image.is_file()
        and os.path.getsize(image) == size
        and (doc["size"], doc["files"], doc["seed"]) == (size, files, seed)
    )
