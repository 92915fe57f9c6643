"""The seal: a ``sha512sum``-format file over the tag manifests, with signed header fields.

``sha512sum -c --strict`` skips the ``#`` lines, so the same bytes are both a checksum
list for coreutils and a signed statement (case, source, time, Merkle root, custody head)
for the vmforensics verifier. Seal ID = SHA-256 of these bytes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

MAGIC = "# vmforensics-seal: 1"
FIELDS = (
    "case",
    "source",
    "bag",
    "sealed-utc",
    "payload-oxum",
    "merkle-root-sha256",
    "merkle-tree-size",
    "custody-head",
    "signer",
)
_LINE = re.compile(r"^([0-9a-fA-F]{128})  (\S.*)$")


class SealFormatError(Exception):
    pass


@dataclass
class Seal:
    fields: dict[str, str]
    entries: list[tuple[str, str, int]] = field(default_factory=list)  # (sha512, name, line)

    def render(self) -> bytes:
        lines = [MAGIC]
        for key in FIELDS:
            value = " ".join(str(self.fields.get(key, "")).split())
            lines.append(f"# {key}: {value}")
        lines += [f"{h}  {name}" for h, name, _ in self.entries]
        return ("\n".join(lines) + "\n").encode()


def seal_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse(data: bytes) -> Seal:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SealFormatError("seal is not UTF-8") from None
    lines = text.split("\n")
    if not lines or lines[0] != MAGIC:
        raise SealFormatError("line 1: not a vmforensics seal")
    if lines[-1] != "":
        raise SealFormatError("seal does not end with a newline")
    seal = Seal({})
    for number, line in enumerate(lines[1:-1], start=2):
        if line.startswith("# "):
            key, sep, value = line[2:].partition(": ")
            if sep and key in FIELDS:
                seal.fields[key] = value
            continue
        m = _LINE.match(line)
        if not m:
            raise SealFormatError(f"line {number}: not a sha512sum line")
        seal.entries.append((m.group(1).lower(), m.group(2), number))
    missing = [k for k in FIELDS if k not in seal.fields]
    if missing:
        raise SealFormatError(f"seal lacks the fields {', '.join(missing)}")
    return seal
