"""Small synthetic Android device images for the virtual ADB device tests.

A real SQLite call log with one voicemail row (type 4) whose ``_data`` points at an AMR
file in the app sandbox, and a leaked copy in shared storage, as app bugs leave them.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

CONTACTS = "com.android.providers.contacts"
VM_REL = f"data/data/{CONTACTS}/app_voicemail-data/voicemail123"
DB_REL = f"data/data/{CONTACTS}/databases/calllog.db"
SHADOW_REL = f"data/user_de/0/{CONTACTS}/databases/calllog_shadow.db"


def amr_bytes(frames: int, seed: int = 0) -> bytes:
    """A valid AMR-NB file: magic + 12.2 kbit/s frames (header 0x3C, 31 payload bytes)."""
    body = bytearray()
    for i in range(frames):
        payload = hashlib.sha256(f"{seed}-{i}".encode()).digest()[:31]
        body += b"\x3c" + payload
    return b"#!AMR\n" + bytes(body)


def build_image(
    root: Path,
    *,
    device: dict[str, Any] | None = None,
    shared: str = "sdcard",
    extra_packages: dict[str, dict[str, bytes]] | None = None,
    big_shared_file: int = 0,
    device_protected: bool = False,
) -> dict[str, bytes]:
    """Write an image under ``root``; return {image-relative path: bytes} of its files."""
    files: dict[str, bytes] = {}
    db = root / DB_REL
    db.parent.mkdir(parents=True)
    con = sqlite3.connect(db)
    con.execute(
        "CREATE TABLE calls (_id INTEGER PRIMARY KEY, number TEXT, date INTEGER, "
        "duration INTEGER, type INTEGER, _data TEXT, source_package TEXT, transcription TEXT)"
    )
    con.execute(
        "INSERT INTO calls VALUES (1, '+15551230001', 1700000000000, 12, 4, ?, "
        "'com.android.phone', 'call me back')",
        ("/" + VM_REL,),
    )
    con.execute(
        "INSERT INTO calls VALUES (2, '+15551230002', 1700000500000, 30, 1, NULL, NULL, NULL)"
    )
    con.commit()
    con.close()
    files[DB_REL] = db.read_bytes()
    put = {
        VM_REL: amr_bytes(40, 1),
        f"data/data/{CONTACTS}/shared_prefs/vvm.xml": b"<map><string name='x'>1</string></map>",
        f"{shared}/Music/voicemail-shared-1.amr": amr_bytes(60, 2),
        f"{shared}/Download/notes.txt": b"shared notes\n",
        f"{shared}/DCIM/Camera/IMG_0001.jpg": b"\xff\xd8\xff\xe0fakejpeg",
    }
    if device_protected:
        put[SHADOW_REL] = b"SQLite format 3\x00" + bytes(100)
    if big_shared_file:
        put[f"{shared}/Recordings/long.amr"] = amr_bytes(big_shared_file // 32, 3)
    for pkg, tree in (extra_packages or {}).items():
        for rel, data in tree.items():
            put[f"data/data/{pkg}/{rel}"] = data
    for rel, data in put.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[rel] = data
    if device is not None:
        (root / "device.json").write_text(json.dumps(device))
    return files


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
