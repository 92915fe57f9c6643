"""A BagIt 1.0 writer (RFC 8493): copy-and-hash into a new bag, never bag in place.

bagit-python still writes version 0.97 and moves files into ``data/``; evidence must be
copied and the copy checked, so we write the bag ourselves and use bagit-python only as
an independent validator in tests.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20
ALGORITHMS = ("sha256", "sha512")
BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
SEAL_DIR = "seal"


class BagWriteError(Exception):
    pass


@dataclass(frozen=True)
class PayloadRecord:
    path: str  # "data/..."
    size: int
    sha256: str
    sha512: str
    read_sha256: str  # as hashed while copying; sha256 is the re-read of the written copy


def c_sorted(paths: list[str]) -> list[str]:
    return sorted(paths, key=lambda p: p.encode("utf-8"))


def manifest_text(rows: dict[str, str]) -> bytes:
    return b"".join(f"{rows[p]}  {p}\n".encode() for p in c_sorted(list(rows)))


def hash_file(path: Path, algorithms: tuple[str, ...] = ALGORITHMS) -> tuple[dict[str, str], int]:
    hs = {a: hashlib.new(a) for a in algorithms}
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            for h in hs.values():
                h.update(chunk)
            size += len(chunk)
    return {a: h.hexdigest() for a, h in hs.items()}, size


def human_size(n: int) -> str:
    units = ["bytes", "KB", "MB", "GB", "TB"]
    value = float(n)
    for unit in units:
        if value < 1000 or unit == units[-1]:
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} bytes"


def one_line(value: object) -> str:
    return " ".join(str(value).split())


class BagWriter:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if self.root.exists():
            raise BagWriteError(f"{self.root} already exists")
        (self.root / "data").mkdir(parents=True, mode=0o755)
        self.payload: dict[str, PayloadRecord] = {}

    def add_payload(
        self, rel: str, stream: BinaryIO, *, expected_sha256: str | None = None
    ) -> PayloadRecord:
        """Copy ``stream`` to ``data/<rel>``, hashing on the way, then re-read the copy."""
        path = "data/" + rel
        if path in self.payload or ".." in rel.split("/") or rel.startswith("/"):
            raise BagWriteError(f"bad or duplicate payload path {path}")
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
        read_sha = h.hexdigest()
        if expected_sha256 is not None and read_sha != expected_sha256:
            raise BagWriteError(
                f"{path}: the bytes read hash to {read_sha}, the case records {expected_sha256}"
            )
        digests, size = hash_file(target)
        if digests["sha256"] != read_sha:
            raise BagWriteError(f"{path}: the written copy differs from the bytes read")
        os.chmod(target, 0o444)
        rec = PayloadRecord(path, size, digests["sha256"], digests["sha512"], read_sha)
        self.payload[path] = rec
        return rec

    @property
    def oxum(self) -> str:
        return f"{sum(r.size for r in self.payload.values())}.{len(self.payload)}"

    def manifest_lines(self, alg: str = "sha256") -> list[bytes]:
        rows = {p: getattr(r, alg) for p, r in self.payload.items()}
        return manifest_text(rows).splitlines()

    def write_payload_manifests(self) -> None:
        for alg in ALGORITHMS:
            rows = {p: getattr(r, alg) for p, r in self.payload.items()}
            self.write_tag(f"manifest-{alg}.txt", manifest_text(rows))

    def write_tag(self, rel: str, data: bytes) -> Path:
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target

    def write_bagit_txt(self) -> None:
        self.write_tag("bagit.txt", BAGIT_TXT)

    def write_bag_info(self, fields: list[tuple[str, str]]) -> None:
        lines = [f"{label}: {one_line(value)}\n" for label, value in fields]
        self.write_tag("bag-info.txt", "".join(lines).encode())

    def tag_files(self) -> list[str]:
        out = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel_dir = os.path.relpath(dirpath, self.root)
            if rel_dir == ".":
                dirnames[:] = [d for d in dirnames if d not in ("data", SEAL_DIR)]
            for name in filenames:
                rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                if rel_dir == "." and name.startswith("tagmanifest-"):
                    continue
                out.append(rel.replace(os.sep, "/"))
        return c_sorted(out)

    def write_tag_manifests(self) -> dict[str, bytes]:
        files = self.tag_files()
        hashes = {rel: hash_file(self.root / rel)[0] for rel in files}
        written = {}
        for alg in ALGORITHMS:
            text = manifest_text({rel: hashes[rel][alg] for rel in files})
            self.write_tag(f"tagmanifest-{alg}.txt", text)
            written[f"tagmanifest-{alg}.txt"] = text
        return written
