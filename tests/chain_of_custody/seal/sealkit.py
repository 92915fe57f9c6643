"""Helpers for the seal tests: a tiny bag built straight from the library, no case folder."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

from chain_of_custody.custody_log import CustodyLog
from chain_of_custody.seal import BagRequest, PayloadItem, PayloadSummary, SafeNamer
from chain_of_custody.seal.keys import SigningKey, from_seed

SEALED = "2026-11-27T10:06:00Z"
FILES = {
    "HomeDomain/Library/Voicemail/voicemail.db": b"SQLite format 3\x00" + bytes(200),
    "HomeDomain/Library/Voicemail/1.amr": b"#!AMR\n" + bytes(range(256)) * 3,
    "HomeDomain/Library/Voicemail/2.amr": b"#!AMR\n" + b"\x3c" * 500,
    "Media/été/voix message%0A.m4a": b"\x00\x00\x00\x18ftypM4A " + b"x" * 64,
    "empty.txt": b"",
}


def key(n: int = 1) -> SigningKey:
    return from_seed(hashlib.sha256(f"test key {n}".encode()).digest())


def make_bag(
    tmp: Path,
    signer: SigningKey | None = None,
    name: str = "CASE-1_S1",
    extra: list[PayloadItem] | None = None,
    files: dict[str, bytes] | None = None,
) -> Path:
    """Build and seal a bag with a case custody log of two events plus the sealed one."""
    signer = signer or key()
    case = tmp / f"case-{name}"
    case.mkdir(parents=True)
    genesis = json.dumps({"case_id": "CASE-1"}).encode()
    (case / "custody.genesis.json").write_bytes(genesis)
    log = CustodyLog(case / "custody.jsonl", hashlib.sha256(genesis).hexdigest())
    log.append(
        "acquired",
        actor="Jane Examiner",
        tool="vmforensics 0.1.0",
        time_utc="2026-11-27T09:00:00Z",
        detail={"source": "S1"},
    )
    log.append(
        "hashed",
        actor="Jane Examiner",
        tool="vmforensics 0.1.0",
        time_utc="2026-11-27T09:01:00Z",
        detail={"source": "S1", "files": len(FILES)},
    )
    namer = SafeNamer()
    items = []
    for path, data in sorted((FILES if files is None else files).items()):
        items.append(
            PayloadItem(
                rel=namer.name(path, prefix="S1/original/"),
                open=lambda d=data: io.BytesIO(d),
                expected_sha256=hashlib.sha256(data).hexdigest(),
                row={"role": "original", "kind": "file", "evidence_path": path},
            )
        )

    items.extend(extra or [])

    def hook(summary: PayloadSummary) -> tuple[bytes, bytes]:
        log.append(
            "sealed",
            actor="Jane Examiner",
            tool="vmforensics 0.1.0",
            time_utc=SEALED,
            detail={
                "bag": summary.bag,
                "merkle_root_sha256": summary.merkle_root,
                "payload_oxum": summary.oxum,
            },
        )
        return genesis, (case / "custody.jsonl").read_bytes()

    req = BagRequest(
        name=name,
        case_id="CASE-1",
        source_id="S1",
        source_kind="ios-backup",
        source_location="/evidence/backup",
        examiner="Jane Examiner",
        tool_name="vmforensics",
        tool_version="0.1.0",
        sealed_utc=SEALED,
        acquired_start="2026-11-27T09:00:00Z",
        acquired_end="2026-11-27T09:05:00Z",
        payload=items,
        metadata={"acquisition.json": b"{}\n", "not-acquired.tsv": b"x\n"},
    )
    from chain_of_custody.seal import seal_bag

    out = tmp / "out"
    out.mkdir(exist_ok=True)
    return seal_bag(req, out, signer, hook).path
