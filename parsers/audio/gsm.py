"""Raw GSM 06.10 (``.gsm``, as Asterisk writes): 33-byte frames whose first nibble is 0xD.

There is no magic, so nothing searches for it: a caller that expects raw GSM (a ``.gsm``
file in a PBX spool) asks for it with :func:`probe`.
"""

from __future__ import annotations

from parsers.audio.probe import Buffer, Probe

FRAME = 33
MIN_FRAMES = 5  # 100 ms


def probe(buf: Buffer, pos: int, min_frames: int = MIN_FRAMES) -> Probe | None:
    n = len(buf)
    p = pos
    frames = 0
    while p < n and buf[p] >> 4 == 0xD:
        if p + FRAME > n:
            return Probe(
                n - pos, "gsm", "gsm", True, frames >= min_frames, "gsm", {"frames": frames}
            )
        p += FRAME
        frames += 1
    if frames < min_frames:
        return None
    return Probe(p - pos, "gsm", "gsm", False, True, "gsm", {"frames": frames, "sample_rate": 8000})
