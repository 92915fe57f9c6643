"""The iOS voicemail.db parser on real iLEAPP databases and on built ones (issue 2)."""

from __future__ import annotations

import hashlib
import plistlib
import shutil
import sqlite3
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from parsers.base import Item
from parsers.nskeyed import ArchiveError, unarchive
from parsers.records import ProblemRecord, VoicemailRecord
from parsers.voicemail import ios_voicemail_db

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "testdata" / "images"))
from builders import ios


class FolderContext:
    """A parsers.base.Context over files laid out under a folder."""

    source_kind = "folder"

    def __init__(self, root: Path, scratch_root: Path) -> None:
        self.root = root
        self.scratch_root = scratch_root

    def _item(self, p: Path) -> Item:
        data = p.read_bytes()
        return Item(str(p.relative_to(self.root)), p, len(data), hashlib.sha256(data).hexdigest())

    def get(self, path: str) -> Item | None:
        p = self.root / path
        return self._item(p) if p.is_file() else None

    def glob(self, pattern: str) -> list[Item]:
        import fnmatch

        return [
            self._item(p)
            for p in sorted(self.root.rglob("*"))
            if p.is_file() and fnmatch.fnmatchcase(str(p.relative_to(self.root)), pattern)
        ]

    def scratch(self) -> Path:
        self.scratch_root.mkdir(exist_ok=True)
        return Path(tempfile.mkdtemp(dir=self.scratch_root))


def run(root: Path, rel: str, tmp: Path) -> list[object]:
    ctx = FolderContext(root, tmp / "scratch")
    item = ctx.get(rel)
    assert item is not None
    return list(ios_voicemail_db.parse(item, ctx))


ILEAPP = [
    "testdata.voicemail.voicemail.belkasoft_ctf6_ios_device1.zip",
    "testdata.voicemail.voicemail.josh_ios15_ffs.zip",
    "testdata.voicemail.voicemail.mvs_ios_2023.zip",
]


@pytest.mark.parametrize("name", ILEAPP)
def test_real_ileapp_databases_modern_schema_zero_messages(corpus, tmp_path, name):
    path = corpus / "voicemail-db-ileapp" / name
    if not path.is_file():
        pytest.skip(f"{path} absent")
    with zipfile.ZipFile(path) as zf:
        member = next(m for m in zf.namelist() if m.endswith("voicemail.db"))
        data = zf.read(member)
    folder = tmp_path / "fs" / "Library" / "Voicemail"
    folder.mkdir(parents=True)
    (folder / "voicemail.db").write_bytes(data)
    records = run(tmp_path / "fs", "Library/Voicemail/voicemail.db", tmp_path)
    assert records == []
    conn = sqlite3.connect(folder / "voicemail.db")
    columns = [r[1] for r in conn.execute("PRAGMA table_info(voicemail)")]
    assert {"receiver", "label"} <= set(columns)  # modern schema indeed


def _layout(tmp: Path, legacy: bool) -> Path:
    root = tmp / "fs"
    vm = root / "Library" / "Voicemail"
    vm.mkdir(parents=True)
    ios.voicemail_db(vm / "voicemail.db", legacy)
    (vm / "1.transcript").write_bytes(ios.transcript_archive("hello there", 0.5))
    return root


def test_modern_rows_dates_flags_and_transcript(tmp_path):
    records = run(_layout(tmp_path, False), "Library/Voicemail/voicemail.db", tmp_path)
    vms = {r.locator: r for r in records if isinstance(r, VoicemailRecord)}
    assert sorted(vms) == [
        "sqlite:table=deleted,rowid=5",
        *(f"sqlite:table=voicemail,rowid={i}" for i in (1, 2, 3, 4)),
    ]
    one = vms["sqlite:table=voicemail,rowid=1"]
    assert (one.caller, one.callee, one.received_utc, one.received_raw) == (
        "+14155550101",
        "+14155550100",
        "2026-01-01T01:00:00Z",
        ios.BASE_TIME + 3600,
    )
    assert (one.transcript, one.read, one.deleted, one.recovered) == (
        "hello there",
        False,
        False,
        "live",
    )
    assert one.extra["transcript_confidence"] == 0.5 and one.confidence is None
    assert one.extra["account_iccid"] == ios.ICCID and one.audio_refs[0].path.endswith("/1.amr")
    three = vms["sqlite:table=voicemail,rowid=3"]
    assert three.trashed is True and three.deleted is True
    assert three.trashed_raw == ios.BASE_TIME + 86400 - ios.COCOA_EPOCH
    assert three.trashed_utc == "2026-01-02T00:00:00Z"
    assert vms["sqlite:table=deleted,rowid=5"].deleted is True


def test_legacy_schema_by_column_name(tmp_path):
    records = run(_layout(tmp_path, True), "Library/Voicemail/voicemail.db", tmp_path)
    vms = [r for r in records if isinstance(r, VoicemailRecord)]
    assert len(vms) == 3 and all(v.callee is None for v in vms)
    assert [v.caller for v in sorted(vms, key=lambda v: v.locator or "")] == [
        "+14155550101",
        "+14155550102",
        "+14155550103",
    ]


def test_unknown_extra_columns_are_kept(tmp_path):
    root = _layout(tmp_path, False)
    db = root / "Library/Voicemail/voicemail.db"
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE voicemail ADD COLUMN future_thing TEXT")
        conn.execute("UPDATE voicemail SET future_thing='x' WHERE ROWID=2")
    records = run(root, "Library/Voicemail/voicemail.db", tmp_path)
    two = next(r for r in records if isinstance(r, VoicemailRecord) and r.locator.endswith("=2"))
    assert two.extra["future_thing"] == "x"


def test_corrupt_database_and_transcript_are_problems(tmp_path):
    root = _layout(tmp_path, False)
    (root / "Library/Voicemail/1.transcript").write_bytes(b"bplist00garbage")
    records = run(root, "Library/Voicemail/voicemail.db", tmp_path)
    assert any(isinstance(r, ProblemRecord) and r.path.endswith("1.transcript") for r in records)
    (root / "Library/Voicemail/voicemail.db").write_bytes(b"SQLite format 3\x00" + b"\x00" * 500)
    records = run(root, "Library/Voicemail/voicemail.db", tmp_path)
    assert len(records) == 1 and isinstance(records[0], ProblemRecord)


def test_cyclic_archive_is_bounded():
    uid = plistlib.UID
    archive = {
        "$archiver": "NSKeyedArchiver",
        "$version": 100000,
        "$top": {"root": uid(1)},
        "$objects": ["$null", {"self": uid(1)}],
    }
    with pytest.raises(ArchiveError):
        unarchive(plistlib.dumps(archive, fmt=plistlib.FMT_BINARY))


def test_stored_copy_is_not_touched(tmp_path):
    root = _layout(tmp_path, False)
    db = root / "Library/Voicemail/voicemail.db"
    before = db.read_bytes()
    db.chmod(0o400)
    run(root, "Library/Voicemail/voicemail.db", tmp_path)
    assert db.read_bytes() == before
    shutil.rmtree(tmp_path / "scratch")


def _archive(objects: list, root: int = 1) -> bytes:
    top = {"root": plistlib.UID(root)}
    doc = {"$archiver": "NSKeyedArchiver", "$version": 100000, "$top": top, "$objects": objects}
    return plistlib.dumps(doc, fmt=plistlib.FMT_BINARY)


@pytest.mark.timeout(60)
def test_fan_out_archive_is_bounded():
    """Each level lists the next one twice: 30 levels (under the depth bound) is 2**30
    nodes; a 1 KiB transcript must not expand into that (hang, memory)."""
    uid = plistlib.UID
    levels = 30
    objects: list = ["$null"]
    for i in range(levels):
        nxt = uid(i + 2) if i + 1 < levels else "leaf"
        objects.append({"NS.objects": [nxt, nxt]})
    data = _archive(objects)
    assert len(data) < 4096
    with pytest.raises(ArchiveError):
        unarchive(data)


def test_unhashable_keys_and_odd_objects_are_archive_errors():
    uid = plistlib.UID
    unhashable = _archive(["$null", {"NS.keys": [uid(2)], "NS.objects": [uid(3)]}, [1], "v"])
    with pytest.raises(ArchiveError):
        unarchive(unhashable)
    doc = {"$archiver": "NSKeyedArchiver", "$top": {"root": uid(1)}, "$objects": {"1": "x"}}
    with pytest.raises(ArchiveError):
        unarchive(plistlib.dumps(doc, fmt=plistlib.FMT_BINARY))


def test_hostile_transcript_loses_no_voicemail_row(tmp_path):
    """One malicious transcript sidecar is one problem, not the loss of the whole db."""
    root = _layout(tmp_path, False)
    uid = plistlib.UID
    bad = _archive(["$null", {"NS.keys": [uid(2)], "NS.objects": [uid(3)]}, [1], "v"])
    (root / "Library/Voicemail/1.transcript").write_bytes(bad)
    records = run(root, "Library/Voicemail/voicemail.db", tmp_path)
    vms = [r for r in records if isinstance(r, VoicemailRecord)]
    assert len(vms) == 5
    assert any(isinstance(r, ProblemRecord) and r.path.endswith("1.transcript") for r in records)
    not_lists = _archive(["$null", {"NS.keys": 7, "NS.objects": 8}])
    with pytest.raises(ArchiveError):
        unarchive(not_lists)
