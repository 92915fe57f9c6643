"""The default severity policy: one table, exposure × protection (DESIGN.md).

The README shows this same table; ``tests/vmforensics/test_severity.py`` checks that
the README and this table agree, so the two cannot drift apart.
"""

from __future__ import annotations

WEAK = ("none", "encoded", "obfuscated", "weak-encryption")

# exposure -> (severity when unprotected or weakly protected, severity when encrypted)
POLICY: dict[str, tuple[str, str]] = {
    "shared-storage": ("critical", "low"),
    "companion": ("high", "low"),
    "log-or-crash": ("high", "low"),
    "unknown": ("high", "low"),
    "app-cache": ("high", "info"),
    "app-sandbox": ("medium", "info"),
    "server-spool": ("medium", "info"),
    "platform-store": ("info", "info"),
}

# Findings that are not audio: code -> severity.
FINDINGS: dict[str, str] = {
    "vvm-credentials-cleartext": "high",
    "key-beside-ciphertext": "high",
    "pbx-pin-cleartext": "medium",
}

ORDER = ("critical", "high", "medium", "low", "info")


def severity(exposure: str, protection: str) -> str:
    weak, strong = POLICY.get(exposure, POLICY["unknown"])
    return strong if protection == "encrypted" else weak


def worst(levels: list[str]) -> str | None:
    ranked = [lvl for lvl in ORDER if lvl in levels]
    return ranked[0] if ranked else None
