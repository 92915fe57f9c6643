"""iOS acquisition through the real pymobiledevice3 client against the virtual iPhone."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from acquisition.base import Entry, EntryKind, Problem
from acquisition.errors import PasswordRequired, SourceUnavailable
from acquisition.ios_device import IosDeviceSource, list_devices, usbmux_address
from vmforensics.virtual.ios import VirtualIosDevice
from vmforensics.virtual.ios.sample import SampleFile, build_backup, default_files, file_id

pytestmark = pytest.mark.timeout(90)

try:
    import acquisition.ios_backup  # noqa: F401

    HAVE_BACKUP_READER = True
except ImportError:  # pragma: no cover - depends on the lead's module being present
    HAVE_BACKUP_READER = False
needs_reader = pytest.mark.skipif(not HAVE_BACKUP_READER, reason="acquisition.ios_backup missing")


class Calls:
    def __init__(self) -> None:
        self.commands: list[str] = []
        self.prompts: list[str] = []
        self.progress: list[tuple[str, float | None, str]] = []

    def kwargs(self, tmp: Path) -> dict[str, object]:
        return {
            "workdir": tmp / "work",
            "pairing_dir": tmp / "pairing",
            "on_command": self.commands.append,
            "on_prompt": self.prompts.append,
            "on_progress": lambda *a: self.progress.append(a),
        }


def run(source: IosDeviceSource) -> tuple[dict[str, Entry], list[Problem]]:
    entries: dict[str, Entry] = {}
    problems: list[Problem] = []
    with source:
        for item in source.entries():
            if isinstance(item, Problem):
                problems.append(item)
            else:
                assert item.path not in entries, item.path
                entries[item.path] = item
    return entries, problems


def read(entry: Entry) -> bytes:
    with entry.open() as fh:
        return fh.read()


def plain_of(domain: str, rel: str) -> bytes:
    for f in default_files():
        if (f.domain, f.relative_path) == (domain, rel):
            assert f.data is not None
            return f.data
    raise KeyError(rel)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return build_backup(tmp_path / "image")


def test_usbmux_address_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert usbmux_address("UNIX:/run/x") == "/run/x"
    assert usbmux_address("127.0.0.1:27015") == "127.0.0.1:27015"
    monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", "unix:/tmp/sock")
    assert usbmux_address() == "/tmp/sock"
    monkeypatch.delenv("USBMUXD_SOCKET_ADDRESS")
    assert usbmux_address() is None


@pytest.mark.parametrize("spelling", ["libusbmuxd", "bare"])
def test_list_devices_honours_the_environment(image, monkeypatch, spelling) -> None:
    with VirtualIosDevice(image) as dev:
        value = dev.usbmux_address if spelling == "libusbmuxd" else dev.socket_path
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", value)
        devices = list_devices()
    assert devices == [
        {
            "serial": dev.udid,
            "udid": dev.udid,
            "kind": "ios",
            "connection": "USB",
            "model": "iPhone12,1",
            "os": "iOS 17.5",
            "name": "Sample iPhone",
        }
    ]


def test_no_usbmuxd_means_no_devices(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", f"UNIX:{tmp_path / 'absent.sock'}")
    assert list_devices() == []


def test_unknown_udid_cannot_be_opened(image, tmp_path, monkeypatch) -> None:
    with VirtualIosDevice(image) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.usbmux_address)
        src = IosDeviceSource("00000000-0000000000000000", **Calls().kwargs(tmp_path))
        with pytest.raises(SourceUnavailable, match="no such iOS device"):
            src.open()


def test_describe_reports_identity_and_clock(image, tmp_path, monkeypatch) -> None:
    with VirtualIosDevice(image, clock_offset=-3600.0) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.usbmux_address)
        calls = Calls()
        with IosDeviceSource(dev.udid, **calls.kwargs(tmp_path)) as src:
            info = src.describe()
    assert info["kind"] == "ios-device"
    assert info["udid"] == dev.udid
    assert (info["product_type"], info["product_version"], info["build_version"]) == (
        "iPhone12,1",
        "17.5",
        "21F79",
    )
    assert info["device_name"] == "Sample iPhone" and info["serial_number"] == "F2LSAMPLE001"
    assert info["imei"] == "356938035643809"
    assert info["will_encrypt"] is False and info["password_provided"] is False
    assert -3602 < info["clock_offset_seconds"] < -3598
    assert info["device_clock_utc"].endswith("Z")
    assert calls.commands[:4] == [
        f"usbmuxd Connect {dev.udid} port 62078",
        "lockdown QueryType",
        "lockdown GetValue",
        "lockdown StartSession",
    ]
    assert not any(
        "HostID" in c or ("escrow" in c.lower() and "with" not in c) for c in calls.commands
    )


@needs_reader
def test_full_profile_acquires_backup_media_containers_and_crash(image, tmp_path, monkeypatch):
    with VirtualIosDevice(image) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.usbmux_address)
        calls = Calls()
        src = IosDeviceSource(dev.udid, profile="full", **calls.kwargs(tmp_path))
        entries, problems = run(src)
    assert src.complete is True and src.describe()["complete"] is True
    assert problems == []
    # The backup, read through the backup reader: domain/relativePath, byte-identical.
    vm = entries["HomeDomain/Library/Voicemail/1.amr"]
    assert read(vm) == plain_of("HomeDomain", "Library/Voicemail/1.amr")
    assert read(entries["AppDomain-com.example.voicemail/Library/Caches/vm-0001.amr"]) == plain_of(
        "AppDomain-com.example.voicemail", "Library/Caches/vm-0001.amr"
    )
    assert read(entries["backup/Manifest.db"]) == (image / "Manifest.db").read_bytes()
    # AFC media, house_arrest container, crash report.
    jpg = entries["afc/DCIM/100APPLE/IMG_0001.JPG"]
    assert read(jpg) == plain_of("MediaDomain", "Media/DCIM/100APPLE/IMG_0001.JPG")
    assert jpg.times["mtime"] == 1_700_000_000 and jpg.origin == "afc:/DCIM/100APPLE/IMG_0001.JPG"
    assert entries["afc/DCIM"].kind is EntryKind.DIR
    assert read(entries["containers/com.example.voicemail/Documents/greeting.amr"]) == plain_of(
        "AppDomain-com.example.voicemail", "Documents/greeting.amr"
    )
    crash = [p for p in entries if p.startswith("crash/")]
    assert len(crash) == 1 and b"bug_type" in read(entries[crash[0]])
    # What the user was told and what was reported.
    assert any("passcode" in p for p in calls.prompts)
    assert [p for p in calls.progress if p[0] == "backup"][-1][1] == 100.0
    assert (
        "lockdown StartService Service=com.apple.mobilebackup2 (with escrow bag)" in calls.commands
    )
    assert "house_arrest VendContainer com.example.voicemail" in calls.commands
    assert "afc read /DCIM/100APPLE/IMG_0001.JPG" in calls.commands


def test_voicemail_profile_pulls_only_audio_from_media(image, tmp_path, monkeypatch) -> None:
    with VirtualIosDevice(image) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.usbmux_address)
        entries, _ = run(IosDeviceSource(dev.udid, **Calls().kwargs(tmp_path)))
    afc_files = sorted(
        p for p, e in entries.items() if p.startswith("afc/") and e.kind is EntryKind.FILE
    )
    assert afc_files == ["afc/Recordings/20240101 120000.m4a"]


@needs_reader
def test_encrypted_phone_needs_the_password_and_gives_plaintext(tmp_path, monkeypatch) -> None:
    image = build_backup(tmp_path / "image", password="correct horse")
    with VirtualIosDevice(image) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.usbmux_address)
        calls = Calls()
        with pytest.raises(PasswordRequired):
            IosDeviceSource(dev.udid, **calls.kwargs(tmp_path)).open()
        src = IosDeviceSource(dev.udid, password="correct horse", **calls.kwargs(tmp_path))
        entries, problems = run(src)
    assert src.describe()["will_encrypt"] is True and src.describe()["password_provided"] is True
    assert read(entries["HomeDomain/Library/Voicemail/1.amr"]) == plain_of(
        "HomeDomain", "Library/Voicemail/1.amr"
    )
    # The ciphertext arrived as the phone sent it: Manifest.db identical to the image's.
    assert read(entries["backup/Manifest.db"]) == (image / "Manifest.db").read_bytes()
    refused = [p for p in problems if p.path == "containers/com.example.voicemail"]
    assert len(refused) == 1 and "InstallationLookupFailed" in refused[0].message
    assert not any("correct horse" in c for c in calls.commands + calls.prompts)


@needs_reader
def test_wrong_password_keeps_the_encrypted_backup(tmp_path, monkeypatch) -> None:
    image = build_backup(tmp_path / "image", password="right")
    with VirtualIosDevice(image) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.usbmux_address)
        src = IosDeviceSource(dev.udid, password="wrong", **Calls().kwargs(tmp_path))
        entries, problems = run(src)
    assert any(p.stage == "decrypt" and "wrong password" in p.message for p in problems)
    fid = file_id("HomeDomain", "Library/Voicemail/1.amr")
    raw = entries[f"backup/{fid[:2]}/{fid}"]
    assert read(raw) == (image / fid[:2] / fid).read_bytes()


def big_image(tmp_path: Path) -> Path:
    files = [
        *default_files(),
        SampleFile("HomeDomain", "Library/Voicemail/2.amr", bytes(range(256)) * 1200),
        SampleFile("HomeDomain", "Library/Voicemail/3.amr", b"3" * 100_000),
    ]
    return build_backup(tmp_path / "image", files)


@needs_reader
def test_interrupted_backup_is_incomplete_keeps_what_arrived_and_reruns_cleanly(
    tmp_path, monkeypatch
):
    image = big_image(tmp_path)
    big = file_id("HomeDomain", "Library/Voicemail/2.amr")
    with VirtualIosDevice(image, fail_after_bytes=120_000) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.usbmux_address)
        calls = Calls()
        src = IosDeviceSource(dev.udid, profile="full", **calls.kwargs(tmp_path))
        entries, problems = run(src)
        assert src.complete is False and src.describe()["complete"] is False
        main = [p for p in problems if p.path == "" and p.stage == "acquire"]
        assert len(main) == 1
        assert "disconnected during the backup" in main[0].message
        assert "Manifest.db" in main[0].message and "may be truncated" in main[0].message
        assert {p.path for p in problems if "disconnected earlier" in p.message} == {
            "afc",
            "containers",
            "crash",
        }
        received = {p: e for p, e in entries.items() if p.startswith("backup/")}
        assert received, "what arrived is listed"
        for path, entry in received.items():
            rel = path.removeprefix("backup/")
            data = read(entry)
            if rel in ("Info.plist", "Status.plist"):
                assert entry.meta.get("written_by") == "host"
            elif rel.endswith(big):  # the file being sent when the cable was pulled
                assert 0 < len(data) < (image / rel).stat().st_size
                assert (image / rel).read_bytes().startswith(data)
            else:
                assert data == (image / rel).read_bytes(), rel
        assert f"backup/{big[:2]}/{big}" in received

        dev.reattach()
        src2 = IosDeviceSource(dev.udid, profile="full", **Calls().kwargs(tmp_path))
        entries2, problems2 = run(src2)
    assert src2.complete is True and problems2 == []
    assert src2.folder != src.folder
    got = entries2["HomeDomain/Library/Voicemail/2.amr"]
    assert hashlib.sha256(read(got)).digest() == hashlib.sha256(bytes(range(256)) * 1200).digest()


def test_drop_during_media_copy_keeps_the_partial_file(tmp_path, monkeypatch) -> None:
    files = [
        SampleFile("MediaDomain", "Media/Recordings", None),
        SampleFile("MediaDomain", "Media/Recordings/a.m4a", b"a" * 50_000),
        SampleFile("MediaDomain", "Media/Recordings/b.m4a", b"b" * 3_000_000),
    ]
    image = build_backup(tmp_path / "image", files)
    with VirtualIosDevice(image, fail_after_bytes=1_600_000, fail_service="com.apple.afc") as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.usbmux_address)
        src = IosDeviceSource(dev.udid, apps=[], **Calls().kwargs(tmp_path))
        entries, problems = run(src)
    assert src.complete is False
    assert read(entries["afc/Recordings/a.m4a"]) == b"a" * 50_000
    partial = entries["afc/Recordings/b.m4a"]
    assert partial.meta == {"complete": False, "expected_size": 3_000_000}
    assert read(partial) == b"b" * partial.size and partial.size == 1024 * 1024  # whole reads kept
    messages = {p.path: p.message for p in problems}
    assert "device disconnected after" in messages["afc/Recordings/b.m4a"]
    assert "disconnected during the afc copy" in messages["afc"]


def test_untrusted_phone_asks_the_user_to_tap_trust(image, tmp_path, monkeypatch) -> None:
    with VirtualIosDevice(image, trusted=False) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.usbmux_address)
        calls = Calls()
        src = IosDeviceSource(dev.udid, pair_timeout=0, **calls.kwargs(tmp_path))
        with pytest.raises(SourceUnavailable, match="Trust"):
            src.open()
    assert any("tap Trust" in p for p in calls.prompts)


def test_locked_phone_is_reported_not_crashed(image, tmp_path, monkeypatch) -> None:
    with VirtualIosDevice(image, locked=True) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.usbmux_address)
        src = IosDeviceSource(dev.udid, **Calls().kwargs(tmp_path))
        _entries, problems = run(src)
    assert src.complete is False
    assert any("locked" in p.message for p in problems if p.path == "")
    assert {p.path for p in problems if "locked" in p.message} >= {"afc", "containers", "crash"}


@needs_reader
@pytest.mark.parametrize("password", [None, "pw"])
def test_acquired_backup_reads_the_same_as_the_image_offline(tmp_path, monkeypatch, password):
    """The live route and an offline read of the same folder give the same evidence."""
    from acquisition.ios_backup import IosBackupSource

    image = build_backup(tmp_path / "image", password=password)

    def digests(items) -> dict[str, str]:
        return {
            e.path: hashlib.sha256(read(e)).hexdigest()
            for e in items
            if isinstance(e, Entry) and e.kind is EntryKind.FILE
        }

    with IosBackupSource(str(image), password=password, workdir=tmp_path / "off") as offline:
        expected = digests(offline.entries())
    with VirtualIosDevice(image) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.usbmux_address)
        src = IosDeviceSource(dev.udid, password=password, **Calls().kwargs(tmp_path))
        with src:
            live = digests(src.entries())
    live_backup = {
        p: d
        for p, d in live.items()
        if not p.startswith(("afc/", "containers/", "crash/", "backup/"))
    }
    assert expected and live_backup == expected


def test_pairing_when_the_user_taps_trust(image, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / "data"))
    with VirtualIosDevice(image, trusted=False, accept_pairing=True) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.usbmux_address)
        calls = Calls()
        with IosDeviceSource(dev.udid, **calls.kwargs(tmp_path)) as src:
            assert src.describe()["udid"] == dev.udid
        assert ("lockdown", "Pair") in dev.requests
    assert any("tap Trust" in p for p in calls.prompts)
    assert "lockdown Pair" in calls.commands
    assert [p.name for p in (tmp_path / "pairing").iterdir()] == [f"{dev.udid}.plist"]
    assert not (tmp_path / "home").exists()
