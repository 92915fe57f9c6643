"""A full backup through mobilebackup2, knowing what arrived if the phone goes away.

The phone decides what a backup holds and encrypts it itself when backup encryption is on;
the host only receives. We ask for a full backup (never incremental: a clean restart is
the resumption policy) into a fresh folder, and follow the files the phone announces so an
interrupted transfer can say which files arrived and which one was cut.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymobiledevice3.exceptions import (
    ConnectionTerminatedError,
    PasswordRequiredError,
)
from pymobiledevice3.services.mobilebackup2 import BackupFile, Mobilebackup2Service

# Written by pymobiledevice3 itself before the phone sends anything (Status.plist is then
# overwritten by the phone's own at the end), so their presence proves nothing was received.
HOST_WRITTEN = ("Info.plist", "Status.plist")


@dataclass
class BackupOutcome:
    folder: Path  # <backup_dir>/<UDID>
    complete: bool
    announced: list[str] = field(default_factory=list)  # payload names, in arrival order
    error: str | None = None
    progress: float = 0.0

    def received_files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.rglob("*") if p.is_file() and not p.is_symlink())


async def run_backup(
    client: Any,
    backup_dir: Path,
    *,
    on_command: Callable[[str], None],
    on_progress: Callable[[str, float | None, str], None],
) -> BackupOutcome:
    outcome = BackupOutcome(folder=backup_dir / str(client.udid), complete=False)

    def announced(item: BackupFile) -> bool:
        outcome.announced.append(item.file_name or "")
        return True  # keep everything; the callback only tells us what is arriving

    def progress(value: Any) -> None:
        try:
            outcome.progress = float(value)
        except (TypeError, ValueError):
            return
        on_progress("backup", outcome.progress, "")

    on_command("mobilebackup2 Backup (full)")
    try:
        await Mobilebackup2Service(client).backup(
            full=True,
            backup_directory=backup_dir,
            progress_callback=progress,
            filter_callback=announced,
        )
    except (
        ConnectionTerminatedError,
        ConnectionError,
        EOFError,
        asyncio.IncompleteReadError,
    ) as exc:
        outcome.error = f"the device disconnected during the backup ({type(exc).__name__})"
        return outcome
    except PasswordRequiredError:
        outcome.error = "the iPhone is locked and refused the backup service; unlock it"
        return outcome
    except Exception as exc:  # protocol surprises (assertions, bad frames) included
        outcome.error = f"the backup failed: {type(exc).__name__}: {exc}"
        return outcome
    outcome.complete = True
    on_progress("backup", 100.0, "")
    return outcome


def describe_interruption(outcome: BackupOutcome) -> str:
    """What was and was not received, for the custody log."""
    files = [
        p
        for p in outcome.received_files()
        if p.parent != outcome.folder or (p.name not in HOST_WRITTEN and p.stat().st_size > 0)
    ]
    total = sum(p.stat().st_size for p in files)
    names = {p.relative_to(outcome.folder).as_posix() for p in files}
    missing_meta = [n for n in ("Manifest.db", "Manifest.plist", "Status.plist") if n not in names]
    parts = [
        f"{outcome.error}; backup stopped at {outcome.progress:.1f}%",
        f"received {len(outcome.announced)} payload file(s) announced by the phone, "
        f"{len(files)} file(s) on disk, {total} bytes",
    ]
    if outcome.announced:
        last = outcome.announced[-1].split("/", 1)[-1]
        parts.append(f"the last file announced ({last}) may be truncated")
    parts.append(
        "not received: the rest of the backup"
        + (f", including {', '.join(missing_meta)}" if missing_meta else "")
        + " (the phone had not listed it yet, so the missing files cannot be named)"
    )
    return "; ".join(parts)
