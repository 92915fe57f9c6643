"""The case's content-addressed evidence store: ``evidence/<sha256[:2]>/<sha256>``, 0400.

Copy and hash happen in the same read pass; the copy lands under a temporary name and
is renamed into place only when complete, so an interrupted ingest never leaves a
half-written object under a hash it does not have.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from chain_of_custody.hashing import ALL, CHUNK, MultiHasher


class IngestLimitExceeded(Exception):
    """The stream produced more bytes than the caller allowed (zip bombs, lying sizes)."""


@dataclass(frozen=True)
class StoredObject:
    sha256: str
    sha1: str
    md5: str
    size: int
    path: Path
    new: bool  # False when identical bytes were already stored


class EvidenceStore:
    def __init__(self, root: Path, tmp: Path) -> None:
        self.root = Path(root)
        self.tmp = Path(tmp)

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path_for(sha256), "rb")

    def ingest(self, stream: BinaryIO, *, limit: int | None = None) -> StoredObject:
        """Copy ``stream`` into the store, hashing it on the way; return where it landed."""
        self.tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
        hasher = MultiHasher(ALL)
        fd, tmp_name = tempfile.mkstemp(prefix="ingest-", dir=self.tmp)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    hasher.update(chunk)
                    if limit is not None and hasher.size > limit:
                        raise IngestLimitExceeded(f"more than {limit} bytes")
                    out.write(chunk)
            return self._settle(Path(tmp_name), hasher)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def ingest_bytes(self, data: bytes) -> StoredObject:
        import io

        return self.ingest(io.BytesIO(data))

    def _settle(self, tmp_path: Path, hasher: MultiHasher) -> StoredObject:
        digests = hasher.hexdigests()
        final = self.path_for(digests["sha256"])
        new = not final.exists()
        if new:
            final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(tmp_path, 0o400)
            os.replace(tmp_path, final)
        else:
            tmp_path.unlink()
        return StoredObject(
            digests["sha256"], digests["sha1"], digests["md5"], hasher.size, final, new
        )
