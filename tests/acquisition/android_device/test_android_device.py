"""Android acquisition end to end: the real adb-shell client against the virtual phone."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "vmforensics" / "virtual"))
from adb_image_builder import CONTACTS, DB_REL, SHADOW_REL, VM_REL, build_image

from acquisition.android_device import AndroidDeviceSource, list_devices
from acquisition.base import Entry, EntryKind, Problem
from acquisition.errors import SourceUnavailable
from vmforensics.virtual.adb import VirtualAdbDevice

pytestmark = pytest.mark.timeout(60)

SHARED_AMR = "sdcard/Music/voicemail-shared-1.amr"


@dataclass
class Run:
    files: dict[str, bytes] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    description: dict[str, Any] = field(default_factory=dict)
    complete: bool = True
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("adbkeys")


def acquire(dev: VirtualAdbDevice, workdir: Path, key_dir: Path, **kw: Any) -> Run:
    run = Run()
    src = AndroidDeviceSource(
        dev.address,
        workdir=workdir,
        key_dir=key_dir,
        on_command=run.commands.append,
        on_prompt=run.prompts.append,
        **kw,
    )
    with src:
        for item in src.entries():
            if isinstance(item, Problem):
                run.problems.append(item)
                continue
            assert item.path not in run.entries or item.kind == EntryKind.DIR, item.path
            run.entries[item.path] = item
            if item.kind == EntryKind.FILE:
                with item.open() as fh:
                    run.files[item.path] = fh.read()
        run.description = src.describe()
        run.complete = src.complete
    run.requests = list(dev.requests)
    return run


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_files(files: dict[str, bytes], shared: str = "sdcard") -> dict[str, bytes]:
    """Image paths as logical acquisition paths."""
    out = {}
    for rel, data in files.items():
        if rel.startswith(shared + "/"):
            out["sdcard/" + rel[len(shared) + 1 :]] = data
        else:
            out[rel] = data
    return out


# -- strategies ----------------------------------------------------------------------------


def test_root_tar_strategy(tmp_path, key_dir):
    files = build_image(tmp_path / "img", device={"serial": "ROOTED1"})
    with VirtualAdbDevice(tmp_path / "img", root=True) as dev:
        run = acquire(dev, tmp_path / "work", key_dir)
    assert run.complete
    want = image_files(files)
    assert sha(run.files[VM_REL]) == sha(want[VM_REL])
    assert sha(run.files[DB_REL]) == sha(want[DB_REL])
    assert run.entries[VM_REL].origin == "/" + VM_REL
    assert run.entries[VM_REL].meta["via"] == "root tar"
    assert f"exec:su -c 'tar -cf - -C /data/data {CONTACTS}'" in run.commands
    assert run.description["strategies"]["root"].startswith("su -c: 1")
    # the voicemail profile leaves photos on the phone, and says so
    assert "sdcard/DCIM/Camera/IMG_0001.jpg" not in run.files
    assert any("photo/video" in p.message for p in run.problems)
    assert run.files[SHARED_AMR] == want[SHARED_AMR]


def test_run_as_strategy_for_a_debuggable_app(tmp_path, key_dir):
    files = build_image(
        tmp_path / "img",
        device={"debuggable_packages": ["com.google.android.dialer"]},
        extra_packages={"com.google.android.dialer": {"files/vvm/greeting.amr": b"#!AMR\n1"}},
    )
    with VirtualAdbDevice(tmp_path / "img") as dev:
        run = acquire(dev, tmp_path / "work", key_dir)
    rel = "data/data/com.google.android.dialer/files/vvm/greeting.amr"
    assert run.files[rel] == files[rel]
    assert (
        run.entries[rel].origin == "/data/user/0/com.google.android.dialer/files/vvm/greeting.amr"
    )
    assert "exec:run-as com.google.android.dialer tar -cf - ." in run.commands
    # the contacts provider is not debuggable: it came through adb backup
    assert run.entries[DB_REL].meta["via"] == "adb backup"
    assert run.files[DB_REL] == files[DB_REL]
    assert run.description["strategies"]["run-as"] == "1 debuggable apps"


def test_adb_backup_strategy_plain(tmp_path, key_dir):
    files = build_image(tmp_path / "img")
    with VirtualAdbDevice(tmp_path / "img") as dev:
        run = acquire(dev, tmp_path / "work", key_dir)
    assert run.complete
    assert any("Back up my data" in p for p in run.prompts)
    assert f"backup: -noapk -keyvalue {CONTACTS}" in run.commands
    ab = run.entries["adb-backup/backup.ab"]
    assert ab.meta["container"] == "android-backup" and not ab.meta["encrypted"]
    assert run.files["adb-backup/backup.ab"].startswith(b"ANDROID BACKUP\n5\n1\nnone\n")
    assert sha(run.files[VM_REL]) == sha(files[VM_REL])
    assert run.files[DB_REL] == files[DB_REL]
    assert run.entries[DB_REL].origin == f"backup.ab:apps/{CONTACTS}/db/calllog.db"
    assert f"data/data/{CONTACTS}/shared_prefs/vvm.xml" in run.files


def test_adb_backup_encrypted_on_the_phone(tmp_path, key_dir):
    files = build_image(tmp_path / "img", device={"backup": {"password": "pa55"}})
    with VirtualAdbDevice(tmp_path / "img") as dev:
        good = acquire(dev, tmp_path / "w1", key_dir, password="pa55")
        none = acquire(dev, tmp_path / "w2", key_dir)
        wrong = acquire(dev, tmp_path / "w3", key_dir, password="nope")
    assert good.files[VM_REL] == files[VM_REL]
    assert good.entries["adb-backup/backup.ab"].meta["encrypted"] is True
    assert good.description["password_provided"] is True
    for run, needle in ((none, "encrypted"), (wrong, "wrong password")):
        assert VM_REL not in run.files
        assert "adb-backup/backup.ab" in run.files  # the evidence is kept all the same
        assert any(p.stage == "decrypt" and needle in p.message for p in run.problems)
        assert run.complete  # nothing was lost in transfer


def test_backup_not_confirmed_is_reported(tmp_path, key_dir):
    build_image(tmp_path / "img", device={"backup": {"confirm": False}})
    with VirtualAdbDevice(tmp_path / "img") as dev:
        run = acquire(dev, tmp_path / "work", key_dir)
    assert VM_REL not in run.files
    msgs = [p.message for p in run.problems if p.path == f"data/data/{CONTACTS}"]
    assert len(msgs) == 1
    assert "no working su" in msgs[0]
    assert f"run-as: run-as: package not debuggable: {CONTACTS}" in msgs[0]
    assert "not confirmed" in msgs[0]


def test_shared_storage_under_storage_emulated(tmp_path, key_dir):
    files = build_image(tmp_path / "img", shared="storage/emulated/0")
    with VirtualAdbDevice(tmp_path / "img") as dev:
        run = acquire(dev, tmp_path / "work", key_dir, profile="full")
    want = image_files(files, shared="storage/emulated/0")
    shared = {k: v for k, v in run.files.items() if k.startswith("sdcard/")}
    assert shared == {k: v for k, v in want.items() if k.startswith("sdcard/")}
    assert run.entries["sdcard/Music"].kind == EntryKind.DIR
    assert run.entries[SHARED_AMR].origin == "/sdcard/Music/voicemail-shared-1.amr"
    on_disk = (tmp_path / "img" / "storage/emulated/0/Music/voicemail-shared-1.amr").stat()
    assert run.entries[SHARED_AMR].mode == on_disk.st_mode & 0o7777  # permission bits only
    assert run.entries[SHARED_AMR].times["mtime"] == int(on_disk.st_mtime)


def test_content_query_saved_as_text(tmp_path, key_dir):
    build_image(tmp_path / "img", device={"voicemail_provider_readable": True})
    with VirtualAdbDevice(tmp_path / "img") as dev:
        run = acquire(dev, tmp_path / "work", key_dir)
    text = run.files["content-query/voicemail.txt"].decode()
    assert text.startswith("Row: 0 _id=1, number=+15551230001,")
    assert f"_data=/{VM_REL}" in text
    assert run.files["content-query/call_log-calls.txt"].decode().count("Row: ") == 2

    build_image(tmp_path / "img2")
    with VirtualAdbDevice(tmp_path / "img2") as dev:
        refused = acquire(dev, tmp_path / "work2", key_dir)
    assert "content-query/voicemail.txt" not in refused.files
    (problem,) = [p for p in refused.problems if p.path == "content-query/voicemail.txt"]
    assert "SecurityException" in problem.message


def test_full_profile_with_root_takes_every_app(tmp_path, key_dir):
    files = build_image(
        tmp_path / "img",
        extra_packages={"org.thirdparty.vm": {"cache/leak.amr": b"#!AMR\nleak"}},
    )
    with VirtualAdbDevice(tmp_path / "img", root=True) as dev:
        run = acquire(dev, tmp_path / "work", key_dir, profile="full")
    assert run.files["data/data/org.thirdparty.vm/cache/leak.amr"] == b"#!AMR\nleak"
    assert run.files["sdcard/DCIM/Camera/IMG_0001.jpg"] == files["sdcard/DCIM/Camera/IMG_0001.jpg"]
    assert not any("photo/video" in p.message for p in run.problems)


# -- description, commands, keys ----------------------------------------------------------


def test_device_description(tmp_path, key_dir):
    build_image(
        tmp_path / "img",
        device={
            "serial": "WATCH77",
            "model": "Galaxy Watch Test",
            "manufacturer": "samsung",
            "android_version": "13",
            "sdk": "33",
            "fingerprint": "samsung/watch/w:13/TP1A/1:user/release-keys",
            "properties": {"ro.build.characteristics": "nosdcard,watch"},
            "clock_offset_s": -7200,
        },
    )
    with VirtualAdbDevice(tmp_path / "img") as dev:
        run = acquire(dev, tmp_path / "work", key_dir)
    d = run.description
    assert d["kind"] == "android-device"
    assert (d["serial"], d["model"], d["manufacturer"]) == (
        "WATCH77",
        "Galaxy Watch Test",
        "samsung",
    )
    assert (d["android_version"], d["sdk"]) == ("13", "33")
    assert d["build_fingerprint"] == "samsung/watch/w:13/TP1A/1:user/release-keys"
    assert d["wear_os"] is True
    assert -7201 <= d["clock_offset_s"] <= -7199
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", d["device_clock_utc"])
    assert d["complete"] is True and d["transport"] == "tcp"


def test_every_command_received_was_reported(tmp_path, key_dir):
    build_image(tmp_path / "img", device={"debuggable_packages": [CONTACTS]})
    with VirtualAdbDevice(tmp_path / "img", root=False) as dev:
        run = acquire(dev, tmp_path / "work", key_dir)
    # the device logs "sync:" stream opens and then each request inside them
    received = [r for r in run.requests if r != "sync:"]
    reported = [
        c.replace("sync:", "sync ", 1) if c.startswith("sync:") else c for c in run.commands
    ]
    assert sorted(received) == sorted(reported)


def test_key_is_created_once_and_then_trusted(tmp_path):
    keys = tmp_path / "keys"
    build_image(tmp_path / "img")
    with VirtualAdbDevice(tmp_path / "img") as dev:
        first = acquire(dev, tmp_path / "w1", keys)
        second = acquire(dev, tmp_path / "w2", keys)
        assert (keys / "adbkey").is_file() and (keys / "adbkey.pub").is_file()
        assert any("Allow USB debugging" in p for p in first.prompts)
        assert not any("Allow USB debugging" in p for p in second.prompts)
        assert dev.auth_log.count("signature accepted") == 1


def test_unreachable_device_is_source_unavailable(tmp_path, key_dir):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = AndroidDeviceSource(f"127.0.0.1:{port}", workdir=tmp_path / "w", key_dir=key_dir)
    with pytest.raises(SourceUnavailable, match="no ADB device answered"):
        src.open()


def test_list_devices_over_tcp(tmp_path, key_dir):
    build_image(
        tmp_path / "img",
        device={
            "model": "Listed",
            "android_version": "11",
            "properties": {"ro.build.characteristics": "watch"},
        },
    )
    with VirtualAdbDevice(tmp_path / "img") as dev:
        found = list_devices([dev.address, "127.0.0.1:1"], key_dir=key_dir)
    assert found[0]["serial"] == dev.address
    assert (found[0]["kind"], found[0]["model"], found[0]["os"]) == (
        "android",
        "Listed",
        "Wear OS 11",
    )
    assert found[1]["serial"] == "127.0.0.1:1" and "error" in found[1]


# -- interruption -------------------------------------------------------------------------


def test_drop_mid_file_in_shared_storage(tmp_path, key_dir):
    files = build_image(tmp_path / "img", big_shared_file=300_000)
    big = "sdcard/Recordings/long.amr"
    with VirtualAdbDevice(
        tmp_path / "img", fail_after_bytes=150_000, fail_in_service="sync:"
    ) as dev:
        run = acquire(dev, tmp_path / "work", key_dir)
        assert dev.drops == 1
    assert run.complete is False and run.description["complete"] is False
    # everything before the cut is intact
    assert run.files[DB_REL] == files[DB_REL]
    assert run.files[SHARED_AMR] == files[SHARED_AMR]
    # the file being pulled is kept as received, marked incomplete
    partial = run.files[big]
    assert 0 < len(partial) < len(files[big])
    assert files[big].startswith(partial)
    assert run.entries[big].meta["incomplete"] is True
    assert any(p.path == big and "incomplete" in p.message for p in run.problems)
    final = run.problems[-1]
    assert final.stage == "acquire" and final.path == ""
    assert "INCOMPLETE" in final.message and "content query" in final.message
    assert run.description["interruption"] == final.message
    assert run.description["received_files"] >= 3
    assert run.description["target_packages"] == [CONTACTS]
    # nothing after the cut was attempted
    assert not any(c.startswith("shell:content") for c in run.commands)


def test_drop_mid_root_tar_then_rerun(tmp_path, key_dir):
    big = {"files/big.bin": bytes(range(256)) * 2000}
    files = build_image(tmp_path / "img", extra_packages={"com.android.dialer": big})
    with VirtualAdbDevice(
        tmp_path / "img", root=True, fail_after_bytes=200_000, fail_in_service="exec:su"
    ) as dev:
        run = acquire(dev, tmp_path / "w1", key_dir)
        rerun = acquire(dev, tmp_path / "w2", key_dir)
    rel = "data/data/com.android.dialer/files/big.bin"
    assert run.complete is False
    assert run.files[rel] == files[rel][: len(run.files[rel])] and len(run.files[rel]) < len(
        big["files/big.bin"]
    )
    assert run.entries[rel].meta["incomplete"] is True
    assert any("INCOMPLETE" in p.message for p in run.problems)
    # the phone is back: a fresh run gets everything
    assert rerun.complete is True
    assert rerun.files[rel] == files[rel]
    assert rerun.files[VM_REL] == files[VM_REL]


# -- allow-list: what may reach the phone ---------------------------------------------------

_PKG = r"[A-Za-z][\w.]*"
ALLOWED = [
    r"shell:getprop",
    r"shell:date \+%s",
    r"shell:pm list packages",
    r"shell:su -c id",
    r"shell:su 0 id",
    rf"exec:su -c 'tar -cf - -C /data/data {_PKG}'",
    rf"exec:su 0 tar -cf - -C /data/data {_PKG}",
    rf"exec:su -c 'find /data/data/{_PKG} -type f'",  # read-only check of the root tar
    rf"exec:su 0 find /data/data/{_PKG} -type f",
    rf"exec:run-as {_PKG} tar -cf - \.",
    rf"exec:su -c 'tar -cf - -C /data/user_de/0 {_PKG}'",
    rf"exec:su 0 tar -cf - -C /data/user_de/0 {_PKG}",
    rf"exec:run-as {_PKG} tar -cf - -C /data/user_de/0/{_PKG} \.",
    rf"backup: -noapk -keyvalue( {_PKG})+",  # includes com.android.calllogbackup
    r"sync:",
    r"sync (LIST|STAT|RECV) /sdcard(/.*)?",
    r"shell:content query --uri content://com\.android\.voicemail/voicemail",
    r"shell:content query --uri content://call_log/calls",
]


@pytest.mark.parametrize(
    ("root", "device", "profile"),
    [
        (True, {}, "voicemail"),
        (True, {}, "full"),
        (False, {"debuggable_packages": [CONTACTS]}, "voicemail"),
        (False, {}, "voicemail"),
        (False, {"backup": {"password": "x"}}, "full"),
    ],
)
def test_only_allowed_commands_reach_the_device(tmp_path, key_dir, root, device, profile):
    build_image(
        tmp_path / "img",
        device=device or None,
        extra_packages={"org.other.app": {"files/a": b"a"}},
        device_protected=True,
    )
    snapshot = {p: p.read_bytes() for p in (tmp_path / "img").rglob("*") if p.is_file()}
    with VirtualAdbDevice(tmp_path / "img", root=root) as dev:
        run = acquire(dev, tmp_path / "work", key_dir, profile=profile)
    assert run.requests, "nothing was sent?"
    for request in run.requests:
        assert any(re.fullmatch(rx, request) for rx in ALLOWED), f"not allowed: {request!r}"
    for forbidden in ("SEND", "push", "rm ", "root:", "reboot", "remount", "restore"):
        assert not any(forbidden in r for r in run.requests)
    # and the image is byte-for-byte what it was
    assert {p: p.read_bytes() for p in (tmp_path / "img").rglob("*") if p.is_file()} == snapshot


def test_drop_mid_backup_keeps_the_partial_ab(tmp_path, key_dir):
    noise = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(40_000))
    big = {"files/big.bin": noise}  # 1.28 MB that zlib cannot shrink
    files = build_image(tmp_path / "img", extra_packages={"com.android.dialer": big})
    with VirtualAdbDevice(
        tmp_path / "img", fail_after_bytes=400_000, fail_in_service="backup:"
    ) as dev:
        run = acquire(dev, tmp_path / "work", key_dir)
    assert run.complete is False
    ab = run.files["adb-backup/backup.ab"]
    assert ab.startswith(b"ANDROID BACKUP\n5\n1\nnone\n") and len(ab) <= 400_000
    assert run.entries["adb-backup/backup.ab"].meta["incomplete"] is True
    # members completely inside the received part are whole; the cut one is marked
    assert run.files[DB_REL] == files[DB_REL]
    rel = "data/data/com.android.dialer/files/big.bin"
    assert 100_000 < len(run.files[rel]) < len(files[rel])
    assert files[rel].startswith(run.files[rel]) and run.entries[rel].meta["incomplete"]
    assert "INCOMPLETE" in run.description["interruption"]
    assert "shared storage" in run.description["interruption"]


def test_adb_server_spec_without_a_server(tmp_path, key_dir, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "no-adb-here"))
    src = AndroidDeviceSource("adb:SERIAL1", workdir=tmp_path / "w", key_dir=key_dir)
    with pytest.raises(SourceUnavailable, match="SERIAL1"):
        src.open()


@pytest.mark.parametrize("root", [True, False, "backup"])
def test_device_protected_storage_is_taken_too(tmp_path, key_dir, root):
    """Direct-boot data (calllog_shadow.db) lives in /data/user_de, beside the CE folder."""
    debuggable = [] if root == "backup" else [CONTACTS]
    files = build_image(
        tmp_path / "img", device={"debuggable_packages": debuggable}, device_protected=True
    )
    with VirtualAdbDevice(tmp_path / "img", root=root is True) as dev:
        run = acquire(dev, tmp_path / "work", key_dir)
    assert run.files[SHADOW_REL] == files[SHADOW_REL]
    origin = run.entries[SHADOW_REL].origin
    if root == "backup":
        assert origin == f"backup.ab:apps/{CONTACTS}/d_db/calllog_shadow.db"
    else:
        assert origin == "/" + SHADOW_REL
    assert run.files[DB_REL] == files[DB_REL]
    # an app with no device-protected folder is not an error
    assert not any(p.path.startswith("data/user_de") for p in run.problems)


def test_key_not_allowed_on_the_phone_says_so(tmp_path):
    build_image(tmp_path / "img")
    prompts: list[str] = []
    with VirtualAdbDevice(tmp_path / "img", accept_new_keys=False) as dev:
        src = AndroidDeviceSource(
            dev.address, workdir=tmp_path / "w", key_dir=tmp_path / "k", on_prompt=prompts.append
        )
        with pytest.raises(SourceUnavailable, match="not allowed on the phone"):
            src.open()
        assert any("Allow USB debugging" in p for p in prompts)
        (listed,) = list_devices([dev.address], key_dir=tmp_path / "k")
        assert "not allowed on the phone" in listed["error"]


def test_backup_also_asks_the_call_log_agent(tmp_path, key_dir):
    build_image(
        tmp_path / "img",
        extra_packages={"com.android.calllogbackup": {"files/state": b"calls"}},
    )
    with VirtualAdbDevice(tmp_path / "img") as dev:
        run = acquire(dev, tmp_path / "work", key_dir)
    assert f"backup: -noapk -keyvalue {CONTACTS} com.android.calllogbackup" in run.commands
    assert run.files["data/data/com.android.calllogbackup/files/state"] == b"calls"
    # an extra agent is not a target: no "not acquired" problem about it either way
    assert not any("calllogbackup" in p.path for p in run.problems)


def test_root_tar_checked_against_find_listing(tmp_path, key_dir):
    """A file SELinux keeps out of the root tar is named as not acquired, not lost silently."""
    files = build_image(tmp_path / "img")
    hidden = "/" + DB_REL
    (tmp_path / "img" / "device.json").write_text(json.dumps({"selinux_hidden": [hidden]}))
    with VirtualAdbDevice(tmp_path / "img", root=True) as dev:
        run = acquire(dev, tmp_path / "work", key_dir)
    assert DB_REL not in run.files  # the tar really left it out
    assert VM_REL in run.files and run.files[VM_REL] == files[VM_REL]
    missing = [p for p in run.problems if p.path == DB_REL]
    assert missing and "absent from the root tar" in missing[0].message
    assert missing[0].origin == hidden
