"""Typed verification results: each names the check, the file, the line, expected and found."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Check:
    check: str  # signature, seal, tag-manifest, payload, completeness, custody, merkle, ...
    ok: bool
    message: str
    file: str | None = None
    line: int | None = None
    expected: str | None = None
    found: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __str__(self) -> str:
        where = self.file or ""
        if self.line is not None:
            where += f" line {self.line}"
        text = f"{'OK  ' if self.ok else 'FAIL'} {self.check}: {self.message}"
        if where:
            text += f" [{where}]"
        if not self.ok and (self.expected is not None or self.found is not None):
            text += f" expected {self.expected}, found {self.found}"
        return text


@dataclass
class Report:
    target: str
    checks: list[Check] = field(default_factory=list)
    signer_fingerprint: str | None = None
    pinned: bool = False
    seal_id: str | None = None
    notes: list[str] = field(default_factory=list)  # facts worth knowing, not failures

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, check: str, ok: bool, message: str, **kw: Any) -> Check:
        c = Check(check, ok, message, **kw)
        self.checks.append(c)
        return c

    def fail(self, check: str, message: str, **kw: Any) -> Check:
        return self.add(check, False, message, **kw)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "ok": self.ok,
            "signer_fingerprint": self.signer_fingerprint,
            "signer_pinned": self.pinned,
            "seal_id": self.seal_id,
            "checks": [c.to_json() for c in self.checks],
            "failures": len(self.failures),
            "notes": self.notes,
        }
