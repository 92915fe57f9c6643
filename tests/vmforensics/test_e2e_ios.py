"""End to end through the real CLI on every bundled iOS image (issue 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from vmf_testutil import read_lines, tree_hashes

AUDIO = {  # ROWID -> (sha256, size) of the AMR-NB files the build script encoded
    1: ("28387b9194948b4bade2b60889868428e7817a71808b1a50318adad7ed461fda", 4838),
    2: ("cf1522fee5ece07cba313dae1cd66125b39206703b2e75bebcd334e73e3f8e6d", 6438),
    3: ("6f1ec7468bbd3928b7c95d9e6b6a8388593849b90505fcfef1ee60ae944afa5e", 3238),
    5: ("82fc7de97cae36ff09f91eac0614b7f48a810da0f0ed72c56a82ad417306a572", 3238),
    9: ("3c3d5fb3ffce083199a5a933cf943b25796d0efb4a3e1ebfdb991666315c455b", 3238),
}
T1 = "Hi, it's Alex. Call me back about the contract, thanks."
T2 = "This is the pharmacy, your prescription is ready."
# (locator, caller, received_utc, duration, transcript, deleted, trashed, trashed_utc, read, audio)
MODERN = [
    (
        "sqlite:table=voicemail,rowid=1",
        "+14155550101",
        "2026-01-01T01:00:00Z",
        3.0,
        T1,
        False,
        False,
        None,
        False,
        1,
    ),
    (
        "sqlite:table=voicemail,rowid=2",
        "+14155550102",
        "2026-01-01T02:00:00Z",
        4.0,
        T2,
        False,
        False,
        None,
        True,
        2,
    ),
    (
        "sqlite:table=voicemail,rowid=3",
        "+14155550103",
        "2026-01-01T03:00:00Z",
        2.0,
        None,
        True,
        True,
        "2026-01-02T00:00:00Z",
        True,
        3,
    ),
    (
        "sqlite:table=voicemail,rowid=4",
        "+14155550104",
        "2026-01-01T04:00:00Z",
        5.0,
        None,
        False,
        False,
        None,
        False,
        None,
    ),
    (
        "sqlite:table=deleted,rowid=5",
        "+14155550105",
        "2026-01-01T05:00:00Z",
        2.0,
        None,
        True,
        False,
        None,
        True,
        5,
    ),
]
VM = "HomeDomain/Library/Voicemail"


def scan(cli, image: Path, case: Path, *extra: str):
    return cli("scan", str(image), "--case", str(case), "--quiet", *extra)


def check_lines(case: Path, validator) -> list[dict]:
    lines = read_lines(case / "artifacts.jsonl")
    for line in lines:
        errors = sorted(validator.iter_errors(line), key=str)
        assert not errors, f"{line}\n{errors[0]}"
    return lines


def voicemail_table(lines: list[dict]) -> list[tuple]:
    audio = {a["id"]: a for a in lines if a["type"] == "audio"}
    rows = []
    for v in sorted((x for x in lines if x["type"] == "voicemail"), key=lambda x: x["locator"]):
        linked = [audio[i] for i in v["audio_ids"]]
        rowid = int(linked[0]["evidence_path"].rsplit("/", 1)[1].split(".")[0]) if linked else None
        rows.append(
            (
                v["locator"],
                v["caller"],
                v["received_utc"],
                v["duration_s"],
                v["transcript"],
                v["deleted"],
                v["trashed"],
                v["trashed_utc"],
                v["read"],
                rowid,
            )
        )
    return rows


@pytest.mark.parametrize("name,password", [("ios-plain", None), ("ios-encrypted", "file")])
def test_modern_backup_exact_records(cli, images, tmp_path, schema_validator, name, password):
    extra = ("--password-file", str(images / f"{name}.password")) if password else ()
    res = scan(cli, images / name, tmp_path / "case", *extra)
    assert res.code == 0, res
    lines = check_lines(tmp_path / "case", schema_validator)
    assert voicemail_table(lines) == sorted(MODERN)
    audio = {a["evidence_path"]: a for a in lines if a["type"] == "audio"}
    assert {p: (a["sha256"], a["size"]) for p, a in audio.items()} == {
        f"{VM}/{rowid}.amr": value for rowid, value in AUDIO.items()
    }
    for a in audio.values():
        assert (a["container"], a["codec"], a["decodes"], a["truncated"]) == (
            "amr",
            "amr-nb",
            True,
            False,
        )
        assert (a["exposure"], a["severity"], a["protection"]) == ("platform-store", "info", "none")
    assert not [x for x in lines if x["type"] == "error"]
    case = json.loads((tmp_path / "case" / "case.json").read_text())
    src = case["sources"][0]
    assert src["kind"] == "ios-backup" and src["complete"] is True
    assert src["description"]["encrypted"] is (password is not None)
    assert src["password_provided"] is (password is not None)
    assert src["description"]["udid"] == "00008110-000A1B2C3D4E5F60"
    assert src["description"]["ios_version"] == "17.5.1"
    assert src["description"]["imei"] == "356789012345678"


def test_legacy_mbdb_backup(cli, images, tmp_path, schema_validator):
    res = scan(cli, images / "ios-legacy", tmp_path / "case")
    assert res.code == 0, res
    lines = check_lines(tmp_path / "case", schema_validator)
    legacy = [
        row
        for row in sorted(MODERN)
        if row[0].endswith(("=1", "=2", "=3")) and "voicemail" in row[0]
    ]
    assert voicemail_table(lines) == legacy
    assert all(v["callee"] is None for v in lines if v["type"] == "voicemail")
    case = json.loads((tmp_path / "case" / "case.json").read_text())
    assert case["sources"][0]["description"]["manifest_format"] == "Manifest.mbdb"
    assert case["sources"][0]["description"]["ios_version"] == "9.3.5"


def test_same_ids_when_scanned_twice_and_source_keeps_its_id(cli, images, tmp_path):
    case = tmp_path / "case"
    assert scan(cli, images / "ios-plain", case).code == 0
    first = (case / "artifacts.jsonl").read_bytes()
    assert scan(cli, images / "ios-plain", case).code == 0
    assert (case / "artifacts.jsonl").read_bytes() == first
    other = tmp_path / "case2"
    assert scan(cli, images / "ios-plain", other).code == 0
    assert (other / "artifacts.jsonl").read_bytes() == first
    data = json.loads((case / "case.json").read_text())
    assert [s["id"] for s in data["sources"]] == ["S1"]


def test_two_sources_are_numbered_in_order(cli, images, tmp_path):
    case = tmp_path / "case"
    res = scan(cli, images / "ios-legacy", case)
    assert res.code == 0
    res = scan(cli, images / "ios-plain", case)
    assert res.code == 0
    lines = read_lines(case / "artifacts.jsonl")
    assert {x["source"] for x in lines} == {"S1", "S2"}
    assert [x["source"] for x in lines] == sorted(x["source"] for x in lines)


def test_case_files_modes_and_custody_chain(cli, images, tmp_path):
    import hashlib

    from chain_of_custody.custody_log import verify_chain

    case = tmp_path / "case"
    assert scan(cli, images / "ios-plain", case).code == 0
    assert (case.stat().st_mode & 0o777) == 0o700
    for p in case.rglob("*"):
        mode = p.stat().st_mode & 0o777
        if p.is_dir():
            assert mode == 0o700, p
        elif "evidence" in p.parts or p.name == "custody.genesis.json":
            assert mode == 0o400, p
        else:
            assert mode == 0o600, p
    genesis = hashlib.sha256((case / "custody.genesis.json").read_bytes()).hexdigest()
    report = verify_chain(case / "custody.jsonl", genesis)
    assert report.ok, report.message
    events = [json.loads(x)["event"] for x in (case / "custody.jsonl").read_text().splitlines()]
    assert events[0] == "case-created" and "source-opened" in events
    assert events.count("stored") == 9 and events[-1] == "source-scanned"
    assert not (case / "tmp").exists()
    # every audio artifact's bytes are in the store under their hash
    for a in read_lines(case / "artifacts.jsonl"):
        if a["type"] == "audio":
            assert (case / "evidence" / a["sha256"][:2] / a["sha256"]).is_file()


def test_json_summary(cli, images, tmp_path):
    res = cli("scan", str(images / "ios-plain"), "--case", str(tmp_path / "c"), "--json")
    assert res.code == 0, res
    summary = json.loads(res.out)
    assert summary["sources"][0]["counts"] == {"audio": 5, "voicemail": 5}
    assert summary["sources"][0]["severities"] == {"info": 5}


def test_password_never_written(cli, images, tmp_path):
    password = (images / "ios-encrypted.password").read_text().strip()
    case = tmp_path / "case"
    res = cli(
        "scan",
        str(images / "ios-encrypted"),
        "--case",
        str(case),
        "--quiet",
        env={"VMF_PASSWORD": password},
    )
    assert res.code == 0, res
    for p in case.rglob("*"):
        if p.is_file():
            assert password.encode() not in p.read_bytes(), p
    assert password not in res.out + res.err


def test_evidence_not_modified_even_with_wal(cli, images, tmp_path):
    """A voicemail.db with a -wal beside it: SQLite must never touch the source."""
    import hashlib
    import sqlite3

    src = tmp_path / "ffs"
    vm = src / "private/var/mobile/Library/Voicemail"
    vm.mkdir(parents=True)
    plain = images / "ios-plain"
    fid = hashlib.sha1(b"HomeDomain-Library/Voicemail/voicemail.db").hexdigest()
    shutil.copy(plain / fid[:2] / fid, vm / "voicemail.db")
    keep = sqlite3.connect(vm / "voicemail.db")
    keep.execute("PRAGMA journal_mode=WAL")
    keep.execute("PRAGMA wal_autocheckpoint=0")
    keep.execute("UPDATE voicemail SET flags=67 WHERE ROWID=1")
    keep.commit()
    assert (vm / "voicemail.db-wal").stat().st_size > 0
    before = tree_hashes(src)
    res = scan(cli, src, tmp_path / "case")
    assert res.code == 0, res
    assert tree_hashes(src) == before
    for name in ("ios-plain", "ios-encrypted", "ios-legacy"):
        snapshot = tree_hashes(images / name)
        extra = ("--password-file", str(images / f"{name}.password")) if "enc" in name else ()
        assert scan(cli, images / name, tmp_path / f"c-{name}", *extra).code == 0
        assert tree_hashes(images / name) == snapshot
    lines = read_lines(tmp_path / "case" / "artifacts.jsonl")
    row1 = next(x for x in lines if x.get("locator") == "sqlite:table=voicemail,rowid=1")
    assert row1["read"] is True  # the WAL's committed change was seen
    keep.close()


def test_relative_case_folder(cli, images, tmp_path):
    res = cli("scan", str(images / "ios-plain"), "--case", "relative-case", "--quiet", cwd=tmp_path)
    assert res.code == 0, res
    lines = read_lines(tmp_path / "relative-case" / "artifacts.jsonl")
    assert sum(x["type"] == "voicemail" for x in lines) == 5
    assert not [x for x in lines if x["type"] == "error"]
