"""What a container module says about the object that starts at an offset.

Every family module exposes ``probe(buf, pos) -> Probe | None``: ``buf`` is everything
that is known to follow (a ``memoryview`` of bytes, possibly of an mmap), ``pos`` the
candidate start. A probe never reads past ``len(buf)`` and never reports a range past it:
when the structure says the object goes on, ``truncated`` is set and ``length`` stops
at the data's end (or at the last unit that is intact, when junk follows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Buffer = memoryview


@dataclass(slots=True)
class Probe:
    length: int
    container: str
    codec: str | None
    truncated: bool = False
    plausible: bool = True  # enough content that it may be audio: worth a decode
    demuxer: str | None = None  # FFmpeg demuxer to force when decoding
    extra: dict[str, Any] = field(default_factory=dict)
    # The end rests on a size field the structure could not confirm (a RIFF size past
    # the last chunk): the carver cuts it at the next object that starts inside.
    soft_end: bool = False


def printable4(b: bytes | memoryview) -> bool:
    """A FourCC made of printable ASCII, as chunk and box names are."""
    return len(b) == 4 and all(0x20 <= c <= 0x7E for c in bytes(b))
