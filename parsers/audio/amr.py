"""AMR-NB / AMR-WB storage format (RFC 4867 §5): magic, then frames with a one-byte header.

There is no length field, so the end is where the frame walk meets a byte that cannot be
the next frame of the same stream. The rule (``walk``) stops at the first frame whose
header has non-zero padding bits (``b & 0x83``), a bad-frame flag (Q = 0), a reserved
frame type, or a speech mode different from the stream's first speech mode (SID and
NO_DATA frames may be interleaved at any time, as DTX does).

How the rule can err (for the README):

* Too short: a stream that really changes codec mode mid-way (AMR is adaptive; a
  network-side recording may switch rate) is cut at the first switch; a frame marked
  bad (Q = 0) by the encoder also ends it.
* Too long: bytes that follow the stream and happen to look like frames of the same mode
  (a header byte of the right value at the right spacing, or a byte 0x7C, NO_DATA) are
  swallowed; two header-less streams of the same mode written back to back merge.
* Truncation: a stream cut exactly at a frame boundary looks complete (``truncated`` is
  only set when the last header promises bytes past the data's end).
"""

from __future__ import annotations

from construct import BitsInteger, BitStruct, Const

from parsers.audio.probe import Buffer, Probe

MAGIC_NB = b"#!AMR\n"
MAGIC_WB = b"#!AMR-WB\n"
MAGIC_NB_MC = b"#!AMR_MC1.0\n"
MAGIC_WB_MC = b"#!AMR-WB_MC1.0\n"
SIGNATURES = (b"#!AMR",)

# Total frame size including the header byte, per frame type 0-15 (FFmpeg amr.c).
NB_SIZES = (13, 14, 16, 18, 20, 21, 27, 32, 6, 1, 1, 1, 1, 1, 1, 1)
WB_SIZES = (18, 24, 33, 37, 41, 47, 51, 59, 61, 6, 1, 1, 1, 1, 1, 1)
NB_SPEECH = range(0, 8)
WB_SPEECH = range(0, 9)
NB_ALLOWED = frozenset((*range(0, 9), 15))  # speech, SID, NO_DATA
WB_ALLOWED = frozenset((*range(0, 10), 14, 15))  # speech, SID, speech lost, NO_DATA

MIN_FRAMES = 5  # fewer frames than this (100 ms) is not worth calling audio

# Multichannel header (RFC 4867 §5.3): 28 reserved bits + 4-bit channel count.
MC_CHANNELS = BitStruct("reserved" / BitsInteger(28), "channels" / BitsInteger(4))
FRAME_HEADER = BitStruct(
    "p1" / Const(0, BitsInteger(1)),
    "ft" / BitsInteger(4),
    "q" / BitsInteger(1),
    "p2" / Const(0, BitsInteger(2)),
)


def walk(
    buf: Buffer, p: int, wide: bool, channels: int = 1, max_frames: int | None = None
) -> tuple[int, int, int, bool]:
    """Frames from ``p``: returns (end, frames, speech_frames, truncated)."""
    sizes = WB_SIZES if wide else NB_SIZES
    allowed = WB_ALLOWED if wide else NB_ALLOWED
    speech = WB_SPEECH if wide else NB_SPEECH
    n = len(buf)
    modes: list[int | None] = [None] * channels
    frames = speech_frames = 0
    while p < n and (max_frames is None or frames < max_frames):
        block_end = p
        is_speech = False
        for ch in range(channels):
            if block_end >= n:
                return n, frames, speech_frames, True
            b = buf[block_end]
            ft = (b >> 3) & 0x0F
            if b & 0x83 or not b & 0x04 or ft not in allowed:
                return p, frames, speech_frames, False
            if ft in speech:
                is_speech = True
                if modes[ch] is None:
                    modes[ch] = ft
                elif modes[ch] != ft:
                    return p, frames, speech_frames, False
            block_end += sizes[ft]
        if block_end > n:
            return n, frames, speech_frames, True
        frames += 1
        speech_frames += is_speech
        p = block_end
    return p, frames, speech_frames, False


def probe(buf: Buffer, pos: int) -> Probe | None:
    head = bytes(buf[pos : pos + 16])
    channels = 1
    if head.startswith(MAGIC_WB):
        wide, start = True, pos + len(MAGIC_WB)
    elif head.startswith(MAGIC_NB):
        wide, start = False, pos + len(MAGIC_NB)
    elif head.startswith(MAGIC_NB_MC) or head.startswith(MAGIC_WB_MC):
        wide = head.startswith(MAGIC_WB_MC)
        hdr = len(MAGIC_WB_MC if wide else MAGIC_NB_MC)
        if len(head) < hdr + 4:
            return Probe(len(buf) - pos, "amr", "amr-wb" if wide else "amr-nb", True, False)
        channels = MC_CHANNELS.parse(head[hdr : hdr + 4]).channels
        if channels == 0:
            return None
        start = pos + hdr + 4
    else:
        return None
    codec = "amr-wb" if wide else "amr-nb"
    end, frames, speech_frames, truncated = walk(buf, start, wide, channels)
    extra = {"frames": frames, "sample_rate": 16000 if wide else 8000, "channels": channels}
    if channels > 1:
        extra["multichannel"] = True
    return Probe(
        length=end - pos,
        container="amr",
        codec=codec,
        truncated=truncated,
        plausible=channels == 1 and frames >= MIN_FRAMES and speech_frames > 0,
        demuxer="amr",
        extra=extra,
    )
