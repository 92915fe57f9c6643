"""Junk bytes put in front of a whole audio file (Vaulty-style "obscured" media).

The carver already finds audio at any offset; what it cannot say is that the offset is
deliberate. A stored file counts as prefix-obfuscated only when it is exactly a few
bytes (at most :data:`MAX_PREFIX`) followed by one audio object that decodes and ends
at the end of the file: nothing else in the file, no container around it.
"""

from __future__ import annotations

from parsers.audio.carve import Hit, identify
from parsers.protection.common import audio_head

MAX_PREFIX = 64


def recover(data: bytes) -> tuple[int, Hit] | None:
    """(prefix length, the audio after it) when ``data`` has that shape, else None."""
    for n in range(1, min(MAX_PREFIX, len(data) - 16) + 1):
        if not audio_head(data[n : n + 16]):
            continue
        hit = identify(data[n:])
        if hit is not None and hit.decodes and n + hit.length == len(data):
            return n, hit
    return None
