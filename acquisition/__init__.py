"""Where bytes come from: sources that yield read-only entries.

This package never imports ``parsers``, ``chain_of_custody`` or ``vmforensics``; it
speaks in the plain values of :mod:`acquisition.base`.
"""

from acquisition.base import Entry, EntryKind, Problem, Source
from acquisition.errors import (
    AcquisitionError,
    NotRecognised,
    PasswordRequired,
    SourceUnavailable,
    WrongPassword,
)

__all__ = [
    "AcquisitionError",
    "Entry",
    "EntryKind",
    "NotRecognised",
    "PasswordRequired",
    "Problem",
    "Source",
    "SourceUnavailable",
    "WrongPassword",
]
