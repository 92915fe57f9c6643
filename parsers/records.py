"""What parsers report: plain, typed records the application turns into artifact lines.

Records name places by evidence path (+ locator/offset); ids, exposure, severity and
source numbers are the application's business, not the parsers'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class AudioRecord:
    """Audio found at ``path`` (+ ``locator``), ``offset``/``length`` into the stored bytes.

    ``data`` holds the recovered bytes when they are not a plain slice of the stored
    entry (decoded, decrypted, de-obfuscated); ``sha256``/``size`` always describe the
    recovered audio exactly.
    """

    path: str
    offset: int | None  # None for audio held in a cell or value (``locator`` says where)
    length: int
    container: str
    codec: str | None
    sha256: str
    size: int
    decodes: bool
    truncated: bool
    duration_s: float | None
    protection: str = "none"
    method: str | None = None
    key_path: str | None = None
    locator: str | None = None
    package: str | None = None
    data: bytes | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AudioRef:
    """How a voicemail record points at its audio: a path, optionally a place inside it."""

    path: str
    locator: str | None = None
    offset: int | None = None


@dataclass
class VoicemailRecord:
    path: str
    platform: str
    caller: str | None
    received_utc: str | None
    duration_s: float | None
    transcript: str | None
    deleted: bool
    recovered: str = "live"
    locator: str | None = None
    offset: int | None = None
    callee: str | None = None
    received_raw: Any = None
    read: bool | None = None
    trashed: bool | None = None
    trashed_utc: str | None = None
    trashed_raw: Any = None
    confidence: float | None = None
    package: str | None = None
    audio_refs: list[AudioRef] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # other columns, as stored


@dataclass
class FindingRecord:
    path: str
    code: str
    title: str
    detail: str
    severity: str
    locator: str | None = None
    offset: int | None = None
    key_path: str | None = None
    package: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProblemRecord:
    path: str
    stage: str
    message: str
    offset: int | None = None
    locator: str | None = None


Record = AudioRecord | VoicemailRecord | FindingRecord | ProblemRecord
