"""End to end through the real CLI on the bundled Android and PBX images (issue 3).

Every expected audio hash is computed from the bytes the builder puts into the image
(the builders are deterministic; tests/testdata/test_image_rebuild.py checks the bundled
images against them), so the test states exactly which stored file each line is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from pathlib import Path

import pytest
from vmf_testutil import read_lines

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "testdata" / "images"))

from builders import android, pbx  # noqa: E402

P = android.PROVIDER
D = android.DIALER
VMD = f"{P}/app_voicemail-data"
SHARE1 = f"{D}/cache/my_cache/+15551230001_11-14-23_0513PM.amr"
SHARE2 = f"{D}/cache/my_cache/Bob Example_11-15-23_0913AM.awb"
SHARED_AMR = "sdcard/Music/voicemail-shared-20231115_091300.amr"
PREFS = f"{D}/shared_prefs/com.google.android.dialer_preferences.xml"
GV_AUDIO = f"{android.GV}/cache/audio/{android.GV_VM_ID}"
GV_DB = f"{android.GV}/files/accounts/1/LegacyMsgDbInstance.db"
T = android.TRANSCRIPT


@pytest.fixture(scope="module")
def built():
    bundled = REPO / "testdata" / "images"
    for name in {**android.IMAGES, **pbx.IMAGES}:
        assert (bundled / name).exists(), f"{name} is not bundled: run `make images`"
    return bundled


@pytest.fixture(scope="module")
def a13_files():
    return android.android13_files()


def scan(cli, image: Path, case: Path, *extra: str):
    return cli("scan", str(image), "--case", str(case), "--quiet", *extra)


def valid_lines(case: Path, validator) -> list[dict]:
    lines = read_lines(case / "artifacts.jsonl")
    for line in lines:
        errors = sorted(validator.iter_errors(line), key=str)
        assert not errors, f"{line}\n{errors[0]}"
    return lines


def sha(data: bytes) -> tuple[str, int]:
    return hashlib.sha256(data).hexdigest(), len(data)


def audio_table(lines):
    return {
        a["evidence_path"]: (
            a["container"],
            a["codec"],
            a["protection"],
            a["method"],
            a["exposure"],
            a["severity"],
            a["decodes"],
            a["truncated"],
            (a["sha256"], a["size"]),
        )
        for a in lines
        if a["type"] == "audio"
    }


def voicemail_table(lines):
    audio = {a["id"]: a["evidence_path"] for a in lines if a["type"] == "audio"}
    return sorted(
        (
            v["evidence_path"],
            v["locator"] or "",
            v["platform"],
            v["caller"],
            v["received_utc"],
            v["received_raw"],
            v["duration_s"],
            v["transcript"],
            v["read"],
            v["deleted"],
            sorted(audio[i] for i in v["audio_ids"]),
        )
        for v in lines
        if v["type"] == "voicemail"
    )


def finding_table(lines):
    return sorted(
        (f["code"], f["severity"], f["evidence_path"], f["locator"])
        for f in lines
        if f["type"] == "finding"
    )


def expected_android13(files):
    f = files
    decoded = base64.b64decode(f[f"{android.ATT}/files/vm_7_part1"])
    audio = {
        f"{VMD}/{android.VM_READ}": ("amr", "amr-nb", "none", None, "platform-store", "info"),
        f"{VMD}/{android.VM_UNREAD_WB}": ("amr", "amr-wb", "none", None, "platform-store", "info"),
        f"{VMD}/{android.VM_DELETED}": ("amr", "amr-nb", "none", None, "platform-store", "info"),
        f"{VMD}/{android.VM_ORPHAN}": ("amr", "amr-nb", "none", None, "platform-store", "info"),
        f"{android.ATT}/files/vm_7_part1": (
            "amr", "amr-nb", "encoded", "base64", "app-sandbox", "medium"
        ),
        f"{android.ATT}/files/vm_8_part2": ("raw", "amr-nb", "none", None, "app-sandbox", "medium"),
        SHARE1: ("amr", "amr-nb", "none", None, "app-cache", "high"),
        SHARE2: ("amr", "amr-wb", "none", None, "app-cache", "high"),
        "data/data/com.samsung.vvm/files/.cache/3f9a1c0e": (
            "amr", "amr-nb", "none", None, "app-sandbox", "medium"
        ),
        SHARED_AMR: ("amr", "amr-nb", "none", None, "shared-storage", "critical"),
        GV_AUDIO: ("mp3", "mp3", "none", None, "app-cache", "high"),
    }  # fmt: skip
    stored = {p: f.get(p) for p in audio}
    stored[SHARED_AMR] = f["data/media/0/Music/voicemail-shared-20231115_091300.amr"]
    stored[f"{android.ATT}/files/vm_7_part1"] = decoded
    table = {p: (*v, True, False, sha(stored[p])) for p, v in audio.items()}
    db = f"{P}/databases/calllog.db"
    vms = [
        (db, "sqlite:table=calls,rowid=2", "android", "+15551230001",
         "2023-11-14T22:13:20.123Z", 1700000000123, 2.0, T, True, False,
         [f"{VMD}/{android.VM_READ}"]),
        (db, "sqlite:table=calls,rowid=3", "android", "+15551230002", "2023-11-15T22:13:20Z",
         1700086400000, 2.0, None, False, False, [f"{VMD}/{android.VM_UNREAD_WB}"]),
        (db, "sqlite:table=calls,rowid=4", "android", "+15551230003", "2023-11-16T22:13:20Z",
         1700172800000, 1.0, None, True, True, [f"{VMD}/{android.VM_DELETED}"]),
        (db, "sqlite:table=calls,rowid=5", "android", "+15551230004", "2023-11-17T22:13:20Z",
         1700259200000, 3.0, None, False, False, []),
        (db, "sqlite:table=calls,rowid=6", "android", None, "2023-11-18T22:13:20Z",
         1700345600000, 0.0, None, False, False, []),
        (SHARE1, "", "android", "+15551230001", None, "11-14-23_0513PM", None, None, None,
         False, [SHARE1]),
        (SHARE2, "", "android", "Bob Example", None, "11-15-23_0913AM", None, None, None,
         False, [SHARE2]),
        (f"{D}/databases/annotated_call_log.db", "sqlite:table=AnnotatedCallLog,rowid=2",
         "android", "+15551230001", "2023-11-14T22:13:20.123Z", 1700000000123, 2.0, T, True,
         False, [f"{VMD}/{android.VM_READ}"]),
        (GV_DB, "sqlite:table=message_t,rowid=1", "android", "+15551230007",
         "2023-11-19T22:13:20Z", 1700432000000, 1.5, "Hey, it's Frank from the garage.", False,
         False, [GV_AUDIO]),
    ]  # fmt: skip
    findings = [
        ("voicemail-audio-without-row", "info", f"{VMD}/{android.VM_ORPHAN}", None),
        ("vvm-credentials-cleartext", "high", PREFS, f"prefs:account={android.ACCOUNT}"),
        ("vvm-status", "info", db, "sqlite:table=voicemail_status,rowid=1"),
    ]
    return table, sorted(vms), findings


def _no_secrets(case: Path) -> None:
    for p in case.rglob("*"):
        if p.is_file() and p.suffix in (".jsonl", ".json"):
            text = p.read_text(errors="replace")
            for secret in (
                android.VVM_PASSWORD,
                android.SMTP_PASSWORD,
                android.AB_PASSWORD,
                *pbx.PINS.values(),
            ):
                # as a token: a short PIN can occur by chance inside a hex digest
                hits = re.findall(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", text)
                assert not hits, (p, secret)


@pytest.mark.parametrize(
    "name,password",
    [
        ("android13-fs.tar", False),
        ("android-encrypted-v5.ab", True),
        ("android-v1.ab", False),
    ],
)
def test_android13_content(cli, built, a13_files, tmp_path, schema_validator, name, password):
    extra = ("--password-file", str(built / "android-encrypted-v5.password")) if password else ()
    case = tmp_path / "case"
    res = scan(cli, built / name, case, *extra)
    assert res.code == 0, res
    lines = valid_lines(case, schema_validator)
    audio, vms, findings = expected_android13(a13_files)
    assert audio_table(lines) == audio
    assert voicemail_table(lines) == vms
    assert finding_table(lines) == findings
    assert not [x for x in lines if x["type"] == "error"]
    by_path = {a["evidence_path"]: a for a in lines if a["type"] == "audio"}
    assert by_path[f"{android.ATT}/files/vm_7_part1"]["package"] == "com.att.mobile.android.vvm"
    assert by_path["data/data/com.samsung.vvm/files/.cache/3f9a1c0e"]["package"] == (
        "com.samsung.vvm"
    )
    if name.endswith(".ab"):
        assert by_path[SHARED_AMR]["origin_path"] == (
            "shared/0/Music/voicemail-shared-20231115_091300.amr"
        )
    else:
        assert by_path[SHARED_AMR]["origin_path"] == (
            "data/media/0/Music/voicemail-shared-20231115_091300.amr"
        )
    cred = next(f for f in lines if f.get("code") == "vvm-credentials-cleartext")
    assert "imap.vvm.example.net:993" in cred["detail"]
    _no_secrets(case)
    src = json.loads((case / "case.json").read_text())["sources"][0]
    assert src["password_provided"] is password


def test_encrypted_ab_wrong_password(cli, built, tmp_path):
    bad = tmp_path / "bad.password"
    bad.write_text("not-the-password\n")
    res = scan(
        cli, built / "android-encrypted-v5.ab", tmp_path / "case", "--password-file", str(bad)
    )
    assert res.code == 3, res
    assert "password" in (res.err + res.out).lower()


def test_android6_zip(cli, built, tmp_path, schema_validator):
    files = android.android6_files()
    case = tmp_path / "case"
    res = scan(cli, built / "android6-fs.zip", case)
    assert res.code == 0, res
    lines = valid_lines(case, schema_validator)
    a, b = f"{VMD}/{android.VM6_A}", f"{VMD}/{android.VM6_B}"
    archive = f"{D}/files/voicemails/1.amr"
    shared = "sdcard/Music/voicemail-shared-20231015_101500.amr"
    ok = (True, False)
    assert audio_table(lines) == {
        a: ("amr", "amr-nb", "none", None, "platform-store", "info", *ok, sha(files[a])),
        b: ("amr", "amr-nb", "none", None, "platform-store", "info", *ok, sha(files[b])),
        archive: ("amr", "amr-nb", "none", None, "app-sandbox", "medium", *ok, sha(files[archive])),
        shared: (
            "amr", "amr-nb", "none", None, "shared-storage", "critical", *ok,
            sha(files["storage/emulated/0/Music/voicemail-shared-20231015_101500.amr"]),
        ),
    }  # fmt: skip
    db = f"{P}/databases/contacts2.db"
    assert voicemail_table(lines) == sorted([
        (db, "sqlite:table=calls,rowid=1", "android", "+447700900001", "2023-10-15T22:13:20Z",
         1697408000000, 3.0, "Hello from the old phone.", False, False, [a]),
        (db, "sqlite:table=calls,rowid=2", "android", "+447700900002", "2023-10-16T22:13:20Z",
         1697494400000, 1.0, None, True, True, [b]),
        (f"{D}/databases/dialer.db", "sqlite:table=voicemail_archive_table,rowid=1", "android",
         "+447700900001", "2023-10-15T22:13:20Z", 1697408000000, 3.0,
         "Hello from the old phone.", None, False, [archive]),
    ])  # fmt: skip
    assert finding_table(lines) == [
        ("vvm-status", "info", db, "sqlite:table=voicemail_status,rowid=1")
    ]
    origin = {x["evidence_path"]: x["origin_path"] for x in lines}
    assert origin[shared] == "storage/emulated/0/Music/voicemail-shared-20231015_101500.amr"
    assert not [x for x in lines if x["type"] == "error"]


def test_asterisk_spool(cli, built, tmp_path, schema_validator):
    files = pbx.spool_files()
    case = tmp_path / "case"
    res = scan(cli, built / "asterisk-spool.tar", case)
    assert res.code == 0, res
    lines = valid_lines(case, schema_validator)
    sp = pbx.SPOOL
    expected_audio = {}
    kinds = {"wav": ("wav", "pcm"), "WAV": ("wav", "gsm"), "gsm": ("gsm", "gsm")}
    for path, data in files.items():
        ext = path.rsplit(".", 1)[-1]
        if ext in kinds:
            expected_audio[path] = (
                *kinds[ext],
                "none",
                None,
                "server-spool",
                "medium",
                True,
                False,
                sha(data),
            )
    assert audio_table(lines) == expected_audio
    refs = {}
    for m in pbx.MESSAGES:
        base = f"{sp}/{m.mailbox}/{m.folder}/{m.stem}"
        refs[f"{base}.txt"] = sorted(f"{base}.{e}" for e in ("WAV", "gsm", "wav"))
    part = f"{sp}/1001/tmp/{pbx.PARTIAL_STEM}"
    refs[part] = [f"{part}.gsm", f"{part}.wav"]
    got = {v[0]: v for v in voicemail_table(lines)}
    assert sorted(got) == sorted(refs)
    for path, row in got.items():
        assert row[2] == "asterisk" and row[10] == refs[path]
    inbox = got[f"{sp}/1001/INBOX/msg0000.txt"]
    assert inbox[3:10] == ("5551230001", "2023-11-14T22:13:20Z", 1700000000, 2.0, None, False,
                           False)  # fmt: skip
    assert got[f"{sp}/1001/Old/msg0000.txt"][8] is True
    assert got[f"{sp}/1001/Deleted/msg0000.txt"][9] is True
    assert got[part][6] is None  # duration is written only when a recording ends
    assert finding_table(lines) == [
        ("pbx-pin-cleartext", "medium", "etc/asterisk/voicemail.conf",
         "conf:context=default,mailbox=1001"),
        ("pbx-pin-cleartext", "medium", "etc/asterisk/voicemail_secrets.conf",
         "conf:context=default,mailbox=1002"),
    ]  # fmt: skip
    assert not [x for x in lines if x["type"] == "error"]
    _no_secrets(case)
