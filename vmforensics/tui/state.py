"""Plain values the screens share (no widgets here, so screens can import it freely)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Target:
    """What the Acquisition screen will acquire: a device spec or an offline path."""

    spec: str
    kind: str
    offline: bool
    model: str | None = None
    os: str | None = None
    encrypted: bool | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        bits = [self.kind, self.spec]
        if self.model:
            bits.append(self.model)
        if self.os:
            bits.append(self.os)
        if self.encrypted is not None:
            bits.append(encrypted_label(self.encrypted))
        return "  ".join(bits)


def encrypted_label(value: bool | None) -> str:
    return {True: "encrypted", False: "not encrypted"}.get(value, "encryption ?")  # type: ignore[arg-type]
