"""Hostile and broken iOS backups through the real CLI: an error line or a clear exit 3,
never a traceback, never a write outside the case folder (issue 2)."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
from vmf_testutil import read_lines

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "testdata" / "images"))
from builders import ios


def copy_image(images: Path, name: str, tmp: Path) -> Path:
    dst = tmp / name
    shutil.copytree(images / name, dst)
    return dst


def no_traceback(res) -> None:
    assert "Traceback" not in res.err and "Traceback" not in res.out, res


def outside_writes(tmp: Path, allowed: set[str]) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name not in allowed)


def errors(case: Path) -> list[dict]:
    return [x for x in read_lines(case / "artifacts.jsonl") if x["type"] == "error"]


def test_hostile_relative_paths_in_manifest(cli, images, tmp_path, schema_validator):
    src = copy_image(images, "ios-plain", tmp_path)
    db = src / "Manifest.db"
    fid = hashlib.sha1(b"HomeDomain-Library/Voicemail/1.amr").hexdigest()
    blob_row = sqlite3.connect(db).execute("SELECT file FROM Files WHERE fileID=?", (fid,))
    blob = blob_row.fetchone()[0]
    hostile = {"../../etc/passwd": "a" * 40, "/abs/olute.amr": "b" * 40, "nul\x00byte": "c" * 40}
    with sqlite3.connect(db) as conn:
        for rel, file_id in hostile.items():
            conn.execute(
                "INSERT INTO Files VALUES (?, 'HomeDomain', ?, 1, ?)", (file_id, rel, blob)
            )
            (src / file_id[:2]).mkdir(exist_ok=True)
            shutil.copy(src / fid[:2] / fid, src / file_id[:2] / file_id)
    case = tmp_path / "case"
    res = cli("scan", str(src), "--case", str(case), "--quiet")
    no_traceback(res)
    assert res.code == 0, res
    errs = errors(case)
    messages = " ".join(e["message"] for e in errs)
    assert "'..' component" in messages and "absolute path" in messages and "NUL byte" in messages
    paths = {x["evidence_path"] for x in read_lines(case / "artifacts.jsonl")}
    assert not any(".." in p.split("/") or p.startswith("/") or "\x00" in p for p in paths)
    # nothing lost: the hostile entries' bytes are stored and carved like any other
    audio = [x for x in read_lines(case / "artifacts.jsonl") if x["type"] == "audio"]
    assert len(audio) == 5 + 3
    assert outside_writes(tmp_path, {"ios-plain", "case"}) == []
    for line in read_lines(case / "artifacts.jsonl"):
        assert not list(schema_validator.iter_errors(line))


def test_truncated_encrypted_file(cli, images, tmp_path):
    src = copy_image(images, "ios-encrypted", tmp_path)
    fid = hashlib.sha1(b"HomeDomain-Library/Voicemail/2.amr").hexdigest()
    target = src / fid[:2] / fid
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2 + 5])
    case = tmp_path / "case"
    res = cli(
        "scan",
        str(src),
        "--case",
        str(case),
        "--quiet",
        "--password-file",
        str(images / "ios-encrypted.password"),
    )
    no_traceback(res)
    assert res.code == 0, res
    errs = [e for e in errors(case) if e["evidence_path"].endswith("/2.amr")]
    assert errs and errs[0]["stage"] == "acquire" and "truncated" in errs[0]["message"]
    assert errs[0]["offset"] is not None
    audio = {
        x["evidence_path"]: x for x in read_lines(case / "artifacts.jsonl") if x["type"] == "audio"
    }
    # the prefix that could be decrypted is kept and recognised as a truncated AMR
    two = audio.get("HomeDomain/Library/Voicemail/2.amr")
    assert two is not None and two["truncated"] is True
    assert len(audio) == 5


def test_file_listed_but_missing(cli, images, tmp_path):
    src = copy_image(images, "ios-plain", tmp_path)
    fid = hashlib.sha1(b"HomeDomain-Library/Voicemail/3.amr").hexdigest()
    (src / fid[:2] / fid).unlink()
    case = tmp_path / "case"
    res = cli("scan", str(src), "--case", str(case), "--quiet")
    assert res.code == 0, res
    missing = [e for e in errors(case) if e["evidence_path"].endswith("3.amr")]
    assert missing and "missing" in missing[0]["message"] and missing[0]["origin_path"] == fid
    vm3 = next(
        x
        for x in read_lines(case / "artifacts.jsonl")
        if x.get("locator") == "sqlite:table=voicemail,rowid=3"
    )
    assert vm3["audio_ids"] == []


def test_corrupt_voicemail_db(cli, images, tmp_path, schema_validator):
    src = copy_image(images, "ios-plain", tmp_path)
    fid = hashlib.sha1(b"HomeDomain-Library/Voicemail/voicemail.db").hexdigest()
    path = src / fid[:2] / fid
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    path.write_bytes(bytes(data))
    case = tmp_path / "case"
    res = cli("scan", str(src), "--case", str(case), "--quiet")
    no_traceback(res)
    assert res.code == 0, res
    errs = [e for e in errors(case) if e["evidence_path"].endswith("voicemail.db")]
    assert any(e["stage"] == "parse" and "SQLite" in e["message"] for e in errs), errs
    for line in read_lines(case / "artifacts.jsonl"):
        assert not list(schema_validator.iter_errors(line)), line
    assert len([x for x in read_lines(case / "artifacts.jsonl") if x["type"] == "audio"]) == 5


def test_wrong_password_exit_3_and_nothing_written(cli, images, tmp_path):
    case = tmp_path / "case"
    res = cli(
        "scan",
        str(images / "ios-encrypted"),
        "--case",
        str(case),
        "--quiet",
        env={"VMF_PASSWORD": "not-the-password"},
    )
    no_traceback(res)
    assert res.code == 3, res
    assert "wrong password" in res.err
    data = json.loads((case / "case.json").read_text())
    assert data["sources"] == []
    assert not (case / "sources").exists() and not (case / "evidence").exists()
    assert not (case / "tmp").exists()


def test_encrypted_without_password_and_terminal(cli, images, tmp_path):
    res = cli("scan", str(images / "ios-encrypted"), "--case", str(tmp_path / "c"), "--quiet")
    no_traceback(res)
    assert res.code == 3, res
    assert "password" in res.err and "--password-file" in res.err and "VMF_PASSWORD" in res.err


def test_manifest_plist_not_a_plist(cli, images, tmp_path):
    src = copy_image(images, "ios-plain", tmp_path)
    (src / "Manifest.plist").write_bytes(b"\x00garbage, not a plist\xff")
    res = cli("scan", str(src), "--case", str(tmp_path / "case"), "--quiet")
    no_traceback(res)
    assert res.code == 0, res  # Manifest.db is plain SQLite: readable, with an error line
    errs = errors(tmp_path / "case")
    assert any(
        e["evidence_path"] == "Manifest.plist" and "not a property list" in e["message"]
        for e in errs
    )
    enc = copy_image(images, "ios-encrypted", tmp_path)
    (enc / "Manifest.plist").write_bytes(b"junk")
    res = cli(
        "scan",
        str(enc),
        "--case",
        str(tmp_path / "case2"),
        "--quiet",
        env={"VMF_PASSWORD": ios.PASSWORD},
    )
    no_traceback(res)
    assert res.code == 3 and "Manifest.plist" in res.err, res


def test_empty_folder_and_missing_path(cli, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    res = cli("scan", str(empty), "--case", str(tmp_path / "case"), "--quiet")
    no_traceback(res)
    assert res.code == 0, res
    res = cli("scan", str(tmp_path / "nope"), "--case", str(tmp_path / "case2"), "--quiet")
    assert res.code == 3 and "no such file" in res.err


def test_non_case_folder_is_refused(cli, images, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    res = cli("scan", str(images / "ios-plain"), "--case", str(busy), "--quiet")
    assert res.code == 2 and "not a vmforensics case" in res.err
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]


def test_several_sources_worst_status(cli, images, tmp_path):
    case = tmp_path / "case"
    res = cli(
        "scan", str(images / "ios-plain"), str(tmp_path / "missing"), "--case", str(case), "--quiet"
    )
    assert res.code == 3 and "missing" in res.err
    data = json.loads((case / "case.json").read_text())
    assert [s["id"] for s in data["sources"]] == ["S1"]


@pytest.mark.parametrize("size_mib", [256])
def test_streaming_large_encrypted_entry_memory(tmp_path, size_mib):
    """Decrypting a >= 256 MiB encrypted backup file keeps memory growth under 64 MiB."""
    import resource
    import subprocess

    from Crypto.Cipher import AES

    key = hashlib.sha256(b"k").digest()
    big = tmp_path / "big.bin"
    cipher = AES.new(key, AES.MODE_CBC, iv=b"\x00" * 16)
    block = (b"voicemail plaintext " * 52429)[: 1 << 20]
    with open(big, "wb") as f:
        for _ in range(size_mib):
            f.write(cipher.encrypt(block))
        f.write(cipher.encrypt(b"\x10" * 16))
    code = (
        "import resource,sys,hashlib\n"
        "from acquisition.ios_backup.crypto import open_decrypted\n"
        "base=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"r=open_decrypted(open({str(big)!r},'rb'), {key!r}, {size_mib << 20}, 'big')\n"
        "h=hashlib.sha256(); n=0\n"
        "while c:=r.read(1<<20):\n h.update(c); n+=len(c)\n"
        "peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(n, (peak-base)//1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    n, growth_mib = map(int, out.stdout.split())
    assert n == size_mib << 20
    assert growth_mib < 64, f"peak memory grew by {growth_mib} MiB"
    del resource


def test_encrypted_ab_without_password_says_how(cli, images, tmp_path):
    res = cli(
        "scan", str(images / "android-encrypted-v5.ab"), "--case", str(tmp_path / "c"), "--quiet"
    )
    no_traceback(res)
    assert res.code == 3, res
    assert "--password-file" in res.err and "VMF_PASSWORD" in res.err


def test_hostile_file_ids_never_read_outside_the_backup(cli, images, tmp_path):
    """A fileID is a name inside the backup folder: an absolute or '..' one must not make
    the tool read (and store, and seal) a file of the examiner's own machine."""
    src = copy_image(images, "ios-plain", tmp_path)
    secret = tmp_path / "examiner-secret.txt"
    secret.write_bytes(b"examiner's own private file, not evidence\n")
    db = src / "Manifest.db"
    fid = hashlib.sha1(b"HomeDomain-Library/Voicemail/1.amr").hexdigest()
    blob = sqlite3.connect(db).execute("SELECT file FROM Files WHERE fileID=?", (fid,)).fetchone()
    up = f"../{tmp_path.name}/{secret.name}"  # backup/<fileID[:2]>/<fileID> = the secret
    hostile = {str(secret): "Library/a.txt", up: "Library/b.txt", "..": "Library/c"}
    with sqlite3.connect(db) as conn:
        for file_id, rel in hostile.items():
            conn.execute(
                "INSERT INTO Files VALUES (?, 'HomeDomain', ?, 1, ?)", (file_id, rel, blob[0])
            )
    case = tmp_path / "case"
    res = cli("scan", str(src), "--case", str(case), "--quiet")
    no_traceback(res)
    assert res.code == 0, res
    stored = [p.read_bytes() for p in (case / "evidence").rglob("*") if p.is_file()]
    assert not any(b"examiner's own" in d for d in stored)
    errs = {e["evidence_path"]: e for e in errors(case)}
    for rel in hostile.values():
        err = errs.get(f"HomeDomain/{rel}")
        assert err is not None and "fileID" in err["message"], sorted(errs)
    audio = [x for x in read_lines(case / "artifacts.jsonl") if x["type"] == "audio"]
    assert len(audio) == 5  # the real voicemail is all still there


@pytest.mark.parametrize("damage", ["no-files-table", "malformed"])
def test_unreadable_manifest_db_joins_nothing(cli, images, tmp_path, damage):
    """A Manifest.db SQLite cannot list is a source that cannot be opened: exit 3, a
    message naming it, no id, nothing stored (not an internal error, half a source)."""
    src = copy_image(images, "ios-plain", tmp_path)
    db = src / "Manifest.db"
    if damage == "no-files-table":
        with sqlite3.connect(db) as conn:
            conn.execute("ALTER TABLE Files RENAME TO Other")
    else:
        data = bytearray(db.read_bytes())
        data[200:] = b"\xa5" * (len(data) - 200)
        db.write_bytes(bytes(data))
    case = tmp_path / "case"
    res = cli("scan", str(src), str(images / "ios-legacy"), "--case", str(case), "--quiet")
    no_traceback(res)
    assert res.code == 3, res
    assert "Manifest.db" in res.err and "internal error" not in res.err
    data = json.loads((case / "case.json").read_text())
    assert [(s["id"], s["location"]) for s in data["sources"]] == [
        ("S1", str(images / "ios-legacy"))
    ]


def test_odd_typed_plist_values_are_described_not_fatal(cli, images, tmp_path):
    """Info.plist / Manifest.plist values of unexpected types (data, arrays, a Lockdown
    that is no dictionary) end up in case.json as plain JSON, not as an internal error."""
    import plistlib

    src = copy_image(images, "ios-plain", tmp_path)
    info = plistlib.loads((src / "Info.plist").read_bytes())
    info.update({"Device Name": b"\x00\x01", "Product Version": [1, 2], "IMEI": {"a": 1}})
    (src / "Info.plist").write_bytes(plistlib.dumps(info))
    manifest = plistlib.loads((src / "Manifest.plist").read_bytes())
    manifest.update({"Lockdown": "not a dictionary", "Version": b"\xff"})
    (src / "Manifest.plist").write_bytes(plistlib.dumps(manifest))
    case = tmp_path / "case"
    res = cli("scan", str(src), "--case", str(case), "--quiet")
    no_traceback(res)
    assert res.code == 0, res
    desc = json.loads((case / "case.json").read_text())["sources"][0]["description"]
    assert desc["device_name"] == "0001" and desc["ios_version"] == "[1, 2]"
    assert desc["backup_version"] == "ff"
    assert len([x for x in read_lines(case / "artifacts.jsonl") if x["type"] == "audio"]) == 5


@pytest.mark.parametrize("value", ["a string", b"\x01\x00"])
def test_odd_manifest_key_is_exit_3(cli, images, tmp_path, value):
    import plistlib

    src = copy_image(images, "ios-encrypted", tmp_path)
    manifest = plistlib.loads((src / "Manifest.plist").read_bytes())
    manifest["ManifestKey"] = value
    (src / "Manifest.plist").write_bytes(plistlib.dumps(manifest))
    case = tmp_path / "case"
    res = cli("scan", str(src), "--case", str(case), "--quiet", env={"VMF_PASSWORD": ios.PASSWORD})
    no_traceback(res)
    assert res.code == 3 and "ManifestKey" in res.err and "internal error" not in res.err, res
    assert json.loads((case / "case.json").read_text())["sources"] == []


def _edit_encrypted_mbfile(src: Path, rel: str, edit) -> None:
    """Decrypt the test image's Manifest.db (its key is deterministic), let ``edit``
    change one row's MBFile record, and encrypt it back."""
    import plistlib

    from Crypto.Cipher import AES

    key = ios.det_bytes("manifest-db-key", 32)
    db = src / "Manifest.db"
    plain = AES.new(key, AES.MODE_CBC, iv=b"\x00" * 16).decrypt(db.read_bytes())
    scratch = src.parent / "manifest-plain.db"
    scratch.write_bytes(plain)
    fid = hashlib.sha1(f"HomeDomain-{rel}".encode()).hexdigest()
    with sqlite3.connect(scratch) as conn:
        blob = conn.execute("SELECT file FROM Files WHERE fileID=?", (fid,)).fetchone()[0]
        archive = plistlib.loads(blob)
        edit(archive["$objects"])
        new = plistlib.dumps(archive, fmt=plistlib.FMT_BINARY)
        conn.execute("UPDATE Files SET file=? WHERE fileID=?", (new, fid))
    conn.close()
    db.write_bytes(AES.new(key, AES.MODE_CBC, iv=b"\x00" * 16).encrypt(scratch.read_bytes()))
    scratch.unlink()


def test_manifest_size_smaller_than_the_file_loses_nothing(cli, images, tmp_path):
    """A manifest Size of 0 for a 4 KiB voicemail must not store it as an empty file."""
    src = copy_image(images, "ios-encrypted", tmp_path)

    def zero_size(objects):
        objects[1]["Size"] = 0

    _edit_encrypted_mbfile(src, "Library/Voicemail/1.amr", zero_size)
    case = tmp_path / "case"
    res = cli("scan", str(src), "--case", str(case), "--quiet", env={"VMF_PASSWORD": ios.PASSWORD})
    no_traceback(res)
    assert res.code == 0, res
    audio = {
        x["evidence_path"]: x for x in read_lines(case / "artifacts.jsonl") if x["type"] == "audio"
    }
    one = audio.get("HomeDomain/Library/Voicemail/1.amr")
    assert one is not None and one["decodes"] is True and one["truncated"] is False
    errs = [e for e in errors(case) if e["evidence_path"].endswith("/1.amr")]
    assert errs and "Size 0" in errs[0]["message"]


def test_odd_protection_class_is_an_error_line(cli, images, tmp_path):
    """An EncryptionKey whose class prefix is 0 falls back to ProtectionClass; a
    ProtectionClass that is no integer is one entry's problem, not the source's."""
    src = copy_image(images, "ios-encrypted", tmp_path)

    def odd_class(objects):
        key_obj = objects[objects[1]["EncryptionKey"].data]
        key_obj["NS.data"] = b"\x00\x00\x00\x00" + key_obj["NS.data"][4:]
        objects[1]["ProtectionClass"] = "three"

    _edit_encrypted_mbfile(src, "Library/Voicemail/2.amr", odd_class)
    case = tmp_path / "case"
    res = cli("scan", str(src), "--case", str(case), "--quiet", env={"VMF_PASSWORD": ios.PASSWORD})
    no_traceback(res)
    assert res.code == 0, res
    errs = [e for e in errors(case) if e["evidence_path"].endswith("/2.amr")]
    assert errs and errs[0]["stage"] == "decrypt", errs
    audio = [x for x in read_lines(case / "artifacts.jsonl") if x["type"] == "audio"]
    assert len(audio) == 4  # every other voicemail still there


def test_two_rows_with_one_evidence_path_both_analysed(cli, images, tmp_path):
    """'/Library/Voicemail/1.amr' sanitises to the path of the real 1.amr: both files must
    be stored and carved (under distinct evidence paths), not one silently shadowed."""
    src = copy_image(images, "ios-plain", tmp_path)
    db = src / "Manifest.db"
    fid1 = hashlib.sha1(b"HomeDomain-Library/Voicemail/1.amr").hexdigest()
    fid2 = hashlib.sha1(b"HomeDomain-Library/Voicemail/2.amr").hexdigest()
    blob = sqlite3.connect(db).execute("SELECT file FROM Files WHERE fileID=?", (fid1,))
    blob = blob.fetchone()[0]
    twin = "e" * 40
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO Files VALUES (?, 'HomeDomain', '/Library/Voicemail/1.amr', 1, ?)",
            (twin, blob),
        )
    (src / twin[:2]).mkdir(exist_ok=True)
    shutil.copy(src / fid2[:2] / fid2, src / twin[:2] / twin)  # other bytes than 1.amr
    case = tmp_path / "case"
    res = cli("scan", str(src), "--case", str(case), "--quiet")
    no_traceback(res)
    assert res.code == 0, res
    lines = read_lines(case / "artifacts.jsonl")
    ids = [x["id"] for x in lines]
    assert len(ids) == len(set(ids))
    audio = [x for x in lines if x["type"] == "audio"]
    assert len(audio) == 6
    ones = sorted(
        (a["evidence_path"], a["origin_path"]) for a in audio if "/1.amr" in a["evidence_path"]
    )
    assert [o for _, o in ones] == [twin, fid1] or [o for _, o in ones] == [fid1, twin]
    assert len({p for p, _ in ones}) == 2
    assert any("duplicate" in e["message"] for e in errors(case))


def test_blob_and_number_callers_are_text_not_a_crash(cli, images, tmp_path, schema_validator):
    """SQLite keeps whatever type a row was given: a BLOB or INTEGER sender must become a
    string in the line (schema), not an internal error that ends the whole run."""
    src = copy_image(images, "ios-plain", tmp_path)
    fid = hashlib.sha1(b"HomeDomain-Library/Voicemail/voicemail.db").hexdigest()
    with sqlite3.connect(src / fid[:2] / fid) as conn:
        conn.execute("UPDATE voicemail SET sender=X'2B3134ff', receiver=14155550100 WHERE ROWID=1")
        conn.execute("UPDATE voicemail SET duration=9e999 WHERE ROWID=2")  # +Infinity
    conn.close()
    case = tmp_path / "case"
    res = cli("scan", str(src), str(images / "ios-legacy"), "--case", str(case), "--quiet")
    no_traceback(res)
    assert res.code == 0, res
    lines = read_lines(case / "artifacts.jsonl")
    for line in lines:
        assert not list(schema_validator.iter_errors(line)), line
    one = next(x for x in lines if x.get("locator") == "sqlite:table=voicemail,rowid=1")
    assert one["caller"] == "+14\\xff" and one["callee"] == "14155550100"
    two = next(x for x in lines if x.get("locator") == "sqlite:table=voicemail,rowid=2")
    assert two["duration_s"] is None
    for raw in (case / "artifacts.jsonl").read_text().splitlines():
        json.loads(raw, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert {x["source"] for x in lines} == {"S1", "S2"}


def test_undecodable_file_id_is_an_error_line(cli, images, tmp_path, schema_validator):
    """A fileID that is not UTF-8 is named printably in the error line; it used to end
    the run with an encoding error while writing the listing."""
    src = copy_image(images, "ios-plain", tmp_path)
    db = src / "Manifest.db"
    fid = hashlib.sha1(b"HomeDomain-Library/Voicemail/1.amr").hexdigest()
    blob = sqlite3.connect(db).execute("SELECT file FROM Files WHERE fileID=?", (fid,))
    blob = blob.fetchone()[0]
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO Files VALUES (CAST(? AS TEXT), 'HomeDomain', 'Library/q.amr', 1, ?)",
            (b"ab\xff\xfe", blob),
        )
    conn.close()
    case = tmp_path / "case"
    res = cli("scan", str(src), "--case", str(case), "--quiet")
    no_traceback(res)
    assert res.code == 0, res
    errs = [e for e in errors(case) if e["evidence_path"] == "HomeDomain/Library/q.amr"]
    assert errs and errs[0]["origin_path"] == "ab\\xff\\xfe" and "fileID" in errs[0]["message"]
    for line in read_lines(case / "artifacts.jsonl"):
        assert not list(schema_validator.iter_errors(line))
