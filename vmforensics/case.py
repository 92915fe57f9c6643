"""The case folder: case.json, the custody log, the evidence store and per-source files.

Layout (DESIGN.md evidence model)::

    DIR/case.json                 case header and sources
    DIR/custody.genesis.json      case.json as first written (line 1 of the log chains to it)
    DIR/custody.jsonl             hash-chained custody log
    DIR/artifacts.jsonl           every source's lines, sorted
    DIR/evidence/<aa>/<sha256>    stored copies, 0400
    DIR/sources/<Sn>/entries.jsonl, artifacts.jsonl, derived.jsonl
    DIR/tmp/                      scratch, removed when a run ends
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

from chain_of_custody.custody_log import CustodyLog
from chain_of_custody.store import EvidenceStore
from vmforensics import TOOL_NAME, __version__
from vmforensics.clock import now_iso
from vmforensics.errors import InputError, UsageError

CONTRACT_VERSION = 1
TOOL = f"{TOOL_NAME} {__version__}"


def _write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def dumps(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode()


class Case:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self.data: dict[str, Any] = {}
        self.log: CustodyLog | None = None

    # -- paths ---------------------------------------------------------------------
    @property
    def case_json(self) -> Path:
        return self.root / "case.json"

    @property
    def genesis(self) -> Path:
        return self.root / "custody.genesis.json"

    @property
    def custody(self) -> Path:
        return self.root / "custody.jsonl"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts.jsonl"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def store(self) -> EvidenceStore:
        return EvidenceStore(self.root / "evidence", self.tmp)

    def source_dir(self, sid: str) -> Path:
        path = self.root / "sources" / sid
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    # -- open / create -------------------------------------------------------------
    @classmethod
    def open_or_create(
        cls,
        root: Path,
        *,
        case_id: str | None,
        examiner: str | None,
        exhibit: str | None = None,
        notes: str | None = None,
    ) -> Case:
        case = cls(root)
        if case.case_json.is_file():
            case._load()
        elif root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise UsageError(
                f"{root} exists, is not empty and is not a vmforensics case; "
                "choose a new folder or an existing case"
            )
        else:
            case._create(case_id or root.name, examiner, exhibit, notes)
        return case

    def _create(
        self, case_id: str, examiner: str | None, exhibit: str | None, notes: str | None
    ) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self.data = {
            "contract_version": CONTRACT_VERSION,
            "case_id": case_id,
            "examiner": examiner or _user(),
            "exhibit": exhibit,
            "notes": notes,
            "tool": {"name": TOOL_NAME, "version": __version__},
            "host": socket.gethostname(),
            "created_utc": now_iso(),
            "sources": [],
        }
        first = dumps(self.data)
        _write_private(self.genesis, first, 0o400)
        _write_private(self.case_json, first)
        self.log = CustodyLog(self.custody, hashlib.sha256(first).hexdigest())
        self.event(
            "case-created",
            {"case_id": case_id, "examiner": self.data["examiner"], "host": self.data["host"]},
        )

    def _load(self) -> None:
        try:
            self.data = json.loads(self.case_json.read_text(encoding="utf-8"))
            genesis = hashlib.sha256(self.genesis.read_bytes()).hexdigest()
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.root}: case.json or custody.genesis.json unreadable: {exc}")
        if self.data.get("contract_version") != CONTRACT_VERSION:
            raise UsageError(
                f"{self.root}: case contract version "
                f"{self.data.get('contract_version')} is not {CONTRACT_VERSION}"
            )
        try:
            self.log = CustodyLog(self.custody, genesis)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # a cut last line (power lost during an unsynced append): appending after it
            # would chain to bytes that are not an event, so the case is left as it is
            raise InputError(
                f"{self.custody}: the last custody event is unreadable ({exc}); the log is "
                "damaged and is left untouched, examine it before adding to this case"
            ) from None

    # -- writing -------------------------------------------------------------------
    def event(self, event: str, detail: dict[str, Any], *, sync: bool = True) -> dict[str, Any]:
        assert self.log is not None
        return self.log.append(
            event,
            actor=self.data.get("examiner") or _user(),
            tool=TOOL,
            time_utc=now_iso(),
            detail=detail,
            sync=sync,
        )

    def save(self) -> None:
        _write_private(self.case_json, dumps(self.data))

    def sources(self) -> list[dict[str, Any]]:
        return list(self.data.get("sources", []))

    def find_source(self, location: str, listing_digest: str | None) -> dict[str, Any] | None:
        for src in self.data.get("sources", []):
            if src.get("location_resolved") == location and (
                listing_digest is None or src.get("listing_before") == listing_digest
            ):
                return src
        return None

    def next_source_id(self) -> str:
        used = {int(s["id"][1:]) for s in self.data.get("sources", [])}
        return f"S{max(used, default=0) + 1}"

    def upsert_source(self, record: dict[str, Any]) -> None:
        sources = self.data.setdefault("sources", [])
        for i, src in enumerate(sources):
            if src["id"] == record["id"]:
                sources[i] = record
                break
        else:
            sources.append(record)
        sources.sort(key=lambda s: int(s["id"][1:]))

    def clean_tmp(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"
