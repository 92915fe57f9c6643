"""Encoders PyAV lacks, driven from the build script: AMR-WB and GSM 06.10.

AMR-WB comes from VisualOn's encoder (Debian ``libvo-amrwbenc0``) through ctypes, whose
``E_IF_encode`` writes RFC 4867 storage-format frames (one header byte + speech bits);
GSM 06.10 comes from SoX (raw ``.gsm`` frames, or "WAV49" GSM-in-RIFF as Asterisk's
``.WAV``). Both are deterministic for the same library versions; ``versions()`` names them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
from functools import cache
from pathlib import Path

AMR_WB_MAGIC = b"#!AMR-WB\n"
SOX_IN = ("sox", "-t", "raw", "-e", "signed", "-b", "16", "-c", "1", "-r")
WB_FRAME_SAMPLES = 320  # 20 ms at 16 kHz
WB_MODE_12_65 = 2  # mode index 2 = 12.65 kbit/s (frame of 33 bytes with its header)


@cache
def _amrwbenc() -> ctypes.CDLL:
    lib = ctypes.CDLL(ctypes.util.find_library("vo-amrwbenc") or "libvo-amrwbenc.so.0")
    lib.E_IF_init.restype = ctypes.c_void_p
    lib.E_IF_encode.argtypes = [
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_short),
        ctypes.POINTER(ctypes.c_ubyte),
        ctypes.c_int,
    ]
    lib.E_IF_encode.restype = ctypes.c_int
    lib.E_IF_exit.argtypes = [ctypes.c_void_p]
    return lib


def amr_wb(pcm16k: bytes, mode: int = WB_MODE_12_65) -> bytes:
    """AMR-WB storage format (``#!AMR-WB\\n`` + frames) of 16 kHz mono s16 PCM."""
    lib = _amrwbenc()
    state = lib.E_IF_init()
    out = bytearray(AMR_WB_MAGIC)
    step = WB_FRAME_SAMPLES * 2
    buf = (ctypes.c_ubyte * 64)()
    try:
        for start in range(0, len(pcm16k), step):
            chunk = pcm16k[start : start + step].ljust(step, b"\x00")
            speech = (ctypes.c_short * WB_FRAME_SAMPLES).from_buffer_copy(chunk)
            n = lib.E_IF_encode(state, mode, speech, buf, 0)
            if n <= 0:
                raise RuntimeError(f"E_IF_encode returned {n}")
            out += bytes(buf[:n])
    finally:
        lib.E_IF_exit(state)
    return bytes(out)


def _sox(pcm: bytes, rate: int, out_args: list[str], suffix: str) -> bytes:
    # SoX writes to a path; a pipe would make it buffer differently on some formats.
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / f"out{suffix}"
        subprocess.run(
            [*SOX_IN, str(rate), "-", *out_args, str(target)],
            input=pcm,
            check=True,
            capture_output=True,
        )
        return target.read_bytes()


def gsm_raw(pcm8k: bytes) -> bytes:
    """Raw GSM 06.10 frames (33 bytes per 20 ms), as Asterisk's ``.gsm``."""
    return _sox(pcm8k, 8000, ["-t", "gsm"], ".gsm")


def gsm_wav49(pcm8k: bytes) -> bytes:
    """GSM 06.10 in RIFF/WAVE (format tag 0x31, "WAV49"), as Asterisk's ``.WAV``."""
    return _sox(pcm8k, 8000, ["-t", "wav", "-e", "gsm-full-rate"], ".wav")


def pcm_wav(pcm: bytes, rate: int = 8000) -> bytes:
    """16-bit mono PCM WAVE with the plain 44-byte header (Asterisk's ``.wav``)."""
    import struct

    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + b"data" + struct.pack("<I", len(pcm)) + pcm


@cache
def versions() -> dict[str, str]:
    def dpkg(pkg: str) -> str:
        try:
            out = subprocess.run(
                ["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True
            )
            return out.stdout.strip() or "unknown"
        except OSError:
            return "unknown"

    sox = subprocess.run(["sox", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "libvo-amrwbenc0": dpkg("libvo-amrwbenc0"),
        "sox": sox.split()[-1] if sox else "unknown",
        "sox-package": dpkg("sox"),
    }


VERSIONS: dict[str, str] = versions()  # the exact encoder versions this module uses
