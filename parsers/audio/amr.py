"""AMR-NB / AMR-WB storage format (RFC 4867 §5): magic, then frames with a one-byte header.

There is no length field, so the end is where the frame walk meets a byte that cannot be
the next frame of the same stream. The rule (``walk``) stops at the first frame whose
header has non-zero padding bits (``b & 0x83``), a bad-frame flag (Q = 0), a reserved
frame type, or a speech mode different from the stream's first speech mode (SID and
NO_DATA frames may be interleaved at any time, as DTX does).

How the rule can err (for the README):

* Too short: a stream that really changes codec mode mid-way (AMR is adaptive; a
  network-side recording may switch rate) is cut at the first switch; a frame marked
  bad (Q = 0) by the encoder, or a reserved frame type, also ends it. A stream whose
  first frames have zero padding bits and a later frame not is cut there (no encoder
  seen does this), and a stream that ends on a single SID or NO_DATA frame right after
  speech, followed by other data, loses that last frame.
* Too long: bytes after the stream that happen to form a frame of the same mode (right
  header byte, zero padding bits) are swallowed: about 1 in 512 for 4.75 kbit/s
  streams followed by random bytes, far less for modes with more padding bits. Two
  header-less streams of the same mode back to back merge (AT&T's parts are meant to).
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


def _pad_masks(sizes: tuple[int, ...], bits: tuple[int, ...]) -> tuple[int, ...]:
    """Per frame type, the padding bits of the frame's last byte (0: none or no payload)."""
    return tuple(
        (1 << ((sizes[ft] - 1) * 8 - bits[ft])) - 1 if ft < len(bits) else 0 for ft in range(16)
    )


# Payload bits per frame type (speech modes, then SID): 3GPP TS 26.101 / 26.201.
NB_BITS = (95, 103, 118, 134, 148, 159, 204, 244, 39)
WB_BITS = (132, 177, 253, 285, 317, 365, 397, 461, 477, 40)
NB_PAD = _pad_masks(NB_SIZES, NB_BITS)
WB_PAD = _pad_masks(WB_SIZES, WB_BITS)
PAD_LEARN = 8  # frames with zero padding before a non-zero pad ends the stream


def walk(
    buf: Buffer, p: int, wide: bool, channels: int = 1, max_frames: int | None = None
) -> tuple[int, int, int, bool]:
    """Frames from ``p``: returns (end, frames, speech_frames, truncated).

    Beyond the header rules, two guards keep junk that follows a stream out of it:
    once a stream has shown :data:`PAD_LEARN` frames whose padding bits are zero (every
    encoder seen does this), a frame with non-zero padding ends it; and a single SID or
    NO_DATA frame straight after speech that is followed by no valid frame is dropped
    (a real DTX pause is a SID followed by NO_DATA frames).
    """
    sizes = WB_SIZES if wide else NB_SIZES
    allowed = WB_ALLOWED if wide else NB_ALLOWED
    speech = WB_SPEECH if wide else NB_SPEECH
    pads = WB_PAD if wide else NB_PAD
    n = len(buf)
    modes: list[int | None] = [None] * channels
    frames = speech_frames = 0
    zero_pad: bool | None = None  # None while learning
    zero_seen = 0
    prev_speech = False
    run_start = run_len = 0
    run_after_speech = False
    ended_on_invalid = False
    while p < n and (max_frames is None or frames < max_frames):
        block_end = p
        is_speech = False
        ok = True
        for ch in range(channels):
            if block_end >= n:
                return n, frames, speech_frames, True
            b = buf[block_end]
            ft = (b >> 3) & 0x0F
            if b & 0x83 or not b & 0x04 or ft not in allowed:
                ok = False
                break
            if ft in speech:
                is_speech = True
                if modes[ch] is None:
                    modes[ch] = ft
                elif modes[ch] != ft:
                    ok = False
                    break
            block_end += sizes[ft]
            if pads[ft] and block_end <= n:
                if buf[block_end - 1] & pads[ft]:
                    if zero_pad:
                        ok = False
                        break
                    zero_pad = False
                else:
                    zero_seen += 1
                    if zero_pad is None and zero_seen >= PAD_LEARN:
                        zero_pad = True
        if not ok:
            ended_on_invalid = True
            break
        if block_end > n:
            return n, frames, speech_frames, True
        if is_speech:
            run_len = 0
        else:
            if run_len == 0:
                run_start, run_after_speech = p, prev_speech
            run_len += 1
        prev_speech = is_speech
        frames += 1
        speech_frames += is_speech
        p = block_end
    if ended_on_invalid and run_len == 1 and run_after_speech:
        return run_start, frames - 1, speech_frames, False
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
