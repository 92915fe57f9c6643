"""Score what a carver recovered against the ground truth of the synthetic image.

A recovery is matched to an embedded file by where it starts (every tool here says where:
vmforensics and foremost/scalpel give byte offsets, photorec the sector in its file
names and report). A recovery whose start names no embedded file is searched for the
first bytes of every embedded file (the head, 64 bytes, longer where 64 are shared by
several files): a carver that starts a file early still "finds" what it contains, but it
is not an exact recovery. What matches nothing is a false positive.

Per embedded file the best outcome counts: exact (same SHA-256) beats over-long or
truncated (starts right, wrong length), which beats "contained" (inside a recovery that
starts elsewhere). Plain values in, plain values out; no timing here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

HEAD = 64
OUTCOMES = ("exact", "over-long", "truncated", "wrong-bytes", "contained")
RANK = {name: i for i, name in enumerate(OUTCOMES)}


class TruthLike(Protocol):
    index: int
    offset: int
    length: int
    sha256: str
    format: str
    aligned: bool


@dataclass
class Recovery:
    """One object a tool reported or wrote out."""

    offset: int | None  # into the image, when the tool says
    length: int
    sha256: str | None = None
    path: Path | None = None  # the recovered file, when the tool writes one
    decodes: bool | None = None  # vmforensics only: confirmed by decoding
    label: str = ""  # the tool's own name for the type


@dataclass
class Score:
    files: int
    found: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    false_positives: int = 0
    false_positives_decoding: int | None = None
    duplicates: int = 0
    recoveries: int = 0
    missed: list[int] = field(default_factory=list)  # ground-truth indexes
    not_exact: list[tuple[int, str]] = field(default_factory=list)  # (index, outcome)
    by_format: dict[str, dict[str, int]] = field(default_factory=dict)
    fp_examples: list[dict[str, object]] = field(default_factory=list)

    @property
    def exact(self) -> int:
        return self.outcomes["exact"]

    def as_dict(self) -> dict[str, object]:
        return {
            "files": self.files,
            "recoveries": self.recoveries,
            "found": self.found,
            "recall": self.found / self.files if self.files else 0.0,
            "exact": self.exact,
            "over_long": self.outcomes["over-long"],
            "truncated": self.outcomes["truncated"],
            "wrong_bytes": self.outcomes["wrong-bytes"],
            "contained": self.outcomes["contained"],
            "false_positives": self.false_positives,
            "false_positives_decoding": self.false_positives_decoding,
            "duplicates": self.duplicates,
            "missed": self.missed,
            "not_exact": self.not_exact,
            "by_format": self.by_format,
            "fp_examples": self.fp_examples,
        }


def heads(truths: Sequence[TruthLike], image_read) -> dict[bytes, int]:
    """Head bytes -> truth index, each head the shortest of 64/256/4096 bytes that is unique.

    ``image_read(offset, n)`` returns image bytes; heads still shared at 4096 bytes (the
    same file embedded twice) are left out: those files are matched by offset only.
    """
    out: dict[bytes, int] = {}
    pending = list(truths)
    for n in (HEAD, 256, 4096):
        got = {t.index: image_read(t.offset, min(n, t.length)) for t in pending}
        counts = Counter(got.values())
        rest = []
        for t in pending:
            if counts[got[t.index]] == 1:
                out[got[t.index]] = t.index
            else:
                rest.append(t)
        pending = rest
    return out


def _outcome(truth: TruthLike, rec: Recovery) -> str:
    if rec.sha256 == truth.sha256 and rec.length == truth.length:
        return "exact"
    if rec.length > truth.length:
        return "over-long"
    if rec.length < truth.length:
        return "truncated"
    return "wrong-bytes"


def score(
    truths: Sequence[TruthLike],
    recoveries: Iterable[Recovery],
    head_map: dict[bytes, int] | None = None,
    *,
    count_decoding: bool = False,
    fp_examples: int = 10,
) -> Score:
    by_offset = {t.offset: t for t in truths}
    by_index = {t.index: t for t in truths}
    head_map = head_map or {}
    finder = (
        re.compile(b"|".join(re.escape(h) for h in sorted(head_map, key=len, reverse=True)))
        if head_map
        else None
    )
    best: dict[int, str] = {}
    result = Score(files=len(truths))
    if count_decoding:
        result.false_positives_decoding = 0

    def note(index: int, outcome: str) -> None:
        if index in best:
            result.duplicates += 1
            if RANK[outcome] >= RANK[best[index]]:
                return
        best[index] = outcome

    for rec in recoveries:
        result.recoveries += 1
        truth = by_offset.get(rec.offset) if rec.offset is not None else None
        if truth is not None:
            note(truth.index, _outcome(truth, rec))
            continue
        matched = False
        if finder is not None and rec.path is not None:
            data = rec.path.read_bytes()
            for m in finder.finditer(data):
                index = head_map[m.group()]
                note(index, _outcome(by_index[index], rec) if m.start() == 0 else "contained")
                matched = True
        if not matched:
            result.false_positives += 1
            if count_decoding and rec.decodes:
                result.false_positives_decoding = (result.false_positives_decoding or 0) + 1
            if len(result.fp_examples) < fp_examples:
                result.fp_examples.append(
                    {
                        "offset": rec.offset,
                        "length": rec.length,
                        "label": rec.label,
                        "decodes": rec.decodes,
                    }
                )
    result.found = len(best)
    result.outcomes = Counter(best.values())
    result.missed = sorted(t.index for t in truths if t.index not in best)
    result.not_exact = sorted((i, o) for i, o in best.items() if o != "exact")
    for t in truths:
        row = result.by_format.setdefault(
            t.format,
            {"files": 0, "found": 0, "exact": 0, "aligned_found": 0, "unaligned_found": 0},
        )
        row["files"] += 1
        if t.index in best:
            row["found"] += 1
            row["aligned_found" if t.aligned else "unaligned_found"] += 1
            if best[t.index] == "exact":
                row["exact"] += 1
    return result
