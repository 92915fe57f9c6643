"""Custody after sealing: signed, chained event files in ``<bag>.custody/`` beside the bag.

A sealed bag never changes, so later events (exported, transferred, received, opened,
returned) live outside it. Each event is one canonical JSON file without a trailing
newline, so ``sha256sum`` of the file is the hash the next event names; the first event
names the seal ID. Each is signed by its actor (SSHSIG), so ``ssh-keygen -Y
check-novalidate`` checks it and nobody can add an event in someone else's name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from chain_of_custody.custody_log import canonical
from chain_of_custody.seal import sshsig
from chain_of_custody.seal.checks import Report
from chain_of_custody.seal.keys import KeyFileError, SigningKey, parse_public
from chain_of_custody.seal.verifymd import CUSTODY_NAMESPACE

SUFFIX = ".custody"
EVENTS = ("exported", "transferred", "received", "opened", "decrypted", "verified", "returned")
_NAME = re.compile(r"^(\d{6})\.json$")
MAX_EVENTS = 100_000


def sidecar_for(bag_parent: Path, bag_name: str) -> Path:
    return Path(bag_parent) / (bag_name + SUFFIX)


def _event_files(sidecar: Path) -> list[Path]:
    if not sidecar.is_dir():
        return []
    return sorted(p for p in sidecar.iterdir() if _NAME.match(p.name))


def append(
    sidecar: Path,
    seal_id: str,
    key: SigningKey,
    *,
    event: str,
    actor: str,
    tool: str,
    time_utc: str,
    detail: dict[str, Any],
) -> dict[str, Any]:
    sidecar.mkdir(mode=0o755, exist_ok=True)
    files = _event_files(sidecar)
    prev = hashlib.sha256(files[-1].read_bytes()).hexdigest() if files else seal_id
    seq = len(files) + 1
    entry = {
        "seq": seq,
        "time_utc": time_utc,
        "event": event,
        "actor": actor,
        "tool": tool,
        "detail": {**detail, "seal_id": seal_id},
        "prev_sha256": prev,
        "signer": {"fingerprint": key.public.fingerprint, "openssh": key.public.openssh().strip()},
    }
    data = canonical(entry)
    path = sidecar / f"{seq:06d}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    (sidecar / f"{seq:06d}.json.sshsig").write_text(sshsig.sign(key, data, CUSTODY_NAMESPACE))
    return entry


def seal_id_from(sidecar: Path) -> str | None:
    """The seal the sidecar is chained to (from its first event), or None when empty."""
    files = _event_files(sidecar)
    if not files:
        return None
    try:
        return str(json.loads(files[0].read_bytes())["prev_sha256"])
    except (ValueError, KeyError, TypeError):
        return None


def verify(sidecar: Path, seal_id: str, report: Report) -> int:
    """Check chain, order and signatures; returns how many events were checked."""
    if not sidecar.is_dir():
        return 0
    names = sorted(p.name for p in sidecar.iterdir())
    known = {p.name for p in _event_files(sidecar)}
    for name in names:
        if name not in known and not (name.endswith(".json.sshsig") and name[:-7] in known):
            report.fail(
                "sidecar", "unexpected file in the custody sidecar", file=f"{sidecar.name}/{name}"
            )
    prev = seal_id
    count = 0
    for number, path in enumerate(_event_files(sidecar)[:MAX_EVENTS], start=1):
        rel = f"{sidecar.name}/{path.name}"
        data = path.read_bytes()
        try:
            entry = json.loads(data)
            if not isinstance(entry, dict):
                raise ValueError("not an object")
        except (ValueError, RecursionError):
            report.fail("sidecar", "event is not a JSON object", file=rel)
            return count
        if path.name != f"{number:06d}.json" or entry.get("seq") != number:
            report.fail(
                "sidecar",
                "event out of sequence (missing or reordered)",
                file=rel,
                expected=str(number),
                found=str(entry.get("seq")),
            )
        if data != canonical(entry):
            report.fail("sidecar", "event is not in canonical form", file=rel)
        if entry.get("prev_sha256") != prev:
            report.fail(
                "sidecar",
                "broken link to the previous event"
                if number > 1
                else "first event is not chained to this seal",
                file=rel,
                expected=prev,
                found=str(entry.get("prev_sha256")),
            )
        raw_signer = entry.get("signer")
        signer: dict[str, Any] = raw_signer if isinstance(raw_signer, dict) else {}
        try:
            key = parse_public(str(signer.get("openssh", "")), where=f"{rel} signer")
        except KeyFileError as exc:
            report.fail("sidecar", str(exc), file=rel)
            key = None
        if key is not None:
            if key.fingerprint != signer.get("fingerprint"):
                report.fail(
                    "sidecar",
                    "signer fingerprint does not match its key",
                    file=rel,
                    expected=key.fingerprint,
                    found=str(signer.get("fingerprint")),
                )
            sig_path = path.with_name(path.name + ".sshsig")
            try:
                armored = sig_path.read_text("utf-8", "replace")
            except OSError:
                report.fail("sidecar", "event signature missing", file=rel + ".sshsig")
            else:
                why = sshsig.verify(armored, data, CUSTODY_NAMESPACE, key)
                if why:
                    report.fail("sidecar", f"event signature invalid: {why}", file=rel + ".sshsig")
        report.notes.append(
            f"after sealing: {path.name} {entry.get('event')} by {entry.get('actor')} at "
            f"{entry.get('time_utc')}, signed by {signer.get('fingerprint')}"
        )
        prev = hashlib.sha256(data).hexdigest()
        count += 1
    return count
