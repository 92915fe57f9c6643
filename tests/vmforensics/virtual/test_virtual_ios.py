"""The virtual iPhone, driven through the real pymobiledevice3 client code over usbmux."""

from __future__ import annotations

import filecmp
import hashlib
import plistlib
from pathlib import Path

import pytest
from pymobiledevice3.exceptions import (
    AfcException,
    AppNotInstalledError,
    ConnectionTerminatedError,
    PasswordRequiredError,
    PyMobileDevice3Exception,
)
from pymobiledevice3.lockdown import create_using_usbmux
from pymobiledevice3.services.afc import AfcService
from pymobiledevice3.services.crash_reports import CrashReportsManager
from pymobiledevice3.services.house_arrest import HouseArrestService
from pymobiledevice3.services.mobilebackup2 import Mobilebackup2Service
from pymobiledevice3.usbmux import list_devices

from vmforensics.virtual.ios import VirtualIosDevice
from vmforensics.virtual.ios.sample import SampleFile, build_backup, default_files, file_id

pytestmark = pytest.mark.timeout(60)

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus" / "ios-backup-mvt"


@pytest.fixture
def plain_image(tmp_path: Path) -> Path:
    return build_backup(tmp_path / "image")


@pytest.fixture
def encrypted_image(tmp_path: Path) -> Path:
    return build_backup(tmp_path / "image-enc", password="s3cret")


@pytest.fixture
def device(plain_image: Path, monkeypatch: pytest.MonkeyPatch):
    with VirtualIosDevice(plain_image) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.socket_path)
        yield dev


async def lockdown(dev: VirtualIosDevice, tmp_path: Path):
    return await create_using_usbmux(
        serial=dev.udid,
        autopair=False,
        pair_record=dev.pair_record,
        pairing_records_cache_folder=tmp_path / "pairing",
    )


def same_tree(a: Path, b: Path, ignore: tuple[str, ...] = ()) -> list[str]:
    """Relative paths that differ (missing on one side, or different bytes)."""

    def files(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - set(
            ignore
        )

    fa, fb = files(a), files(b)
    diff = sorted(fa ^ fb)
    diff += [n for n in sorted(fa & fb) if not filecmp.cmp(a / n, b / n, shallow=False)]
    return diff


async def test_listed_over_usbmux_with_the_images_udid(device: VirtualIosDevice) -> None:
    devices = await list_devices()
    assert [(d.serial, d.connection_type) for d in devices] == [(device.udid, "USB")]
    assert device.usbmux_address == f"UNIX:{device.socket_path}"


async def test_lockdown_describes_the_phone_from_the_backup(device, tmp_path) -> None:
    ld = await lockdown(device, tmp_path)
    try:
        assert ld.paired
        assert ld.udid == "00008030-001a2b3c4d5e6f70"
        assert ld.all_values["ProductType"] == "iPhone12,1"
        assert ld.all_values["ProductVersion"] == "17.5"
        assert ld.all_values["InternationalMobileEquipmentIdentity"] == "356938035643809"
        assert await ld.get_value("com.apple.mobile.backup", "WillEncrypt") is False
    finally:
        await ld.close()
    assert not list((tmp_path / "pairing").iterdir())  # nothing saved by the client


async def test_afc_serves_the_media_domain_read_only(device, plain_image, tmp_path) -> None:
    ld = await lockdown(device, tmp_path)
    try:
        async with AfcService(ld) as afc:
            assert set(await afc.listdir("/")) >= {"DCIM", "Recordings"}
            got = await afc.get_file_contents("/DCIM/100APPLE/IMG_0001.JPG")
            fid = file_id("MediaDomain", "Media/DCIM/100APPLE/IMG_0001.JPG")
            assert got == (plain_image / fid[:2] / fid).read_bytes()
            st = await afc.stat("/DCIM/100APPLE/IMG_0001.JPG")
            assert st["st_size"] == len(got) and int(st["st_mtime"].timestamp()) == 1_700_000_000
            assert not await afc.exists("/Library")  # HomeDomain is not on the media partition
            with pytest.raises(AfcException):
                await afc.set_file_contents("/DCIM/new.txt", b"x")
            with pytest.raises(AfcException):
                await afc.rm_single("/DCIM/100APPLE/IMG_0001.JPG")
            assert await afc.exists("/DCIM/100APPLE/IMG_0001.JPG")
    finally:
        await ld.close()
    texts = [t for s, t in device.requests if s == "com.apple.afc"]
    assert "FILE_OPEN w /DCIM/new.txt" in texts
    assert any(t.startswith("REMOVE_PATH") for t in texts)


async def test_house_arrest_both_modes_and_unknown_app(device, tmp_path) -> None:
    ld = await lockdown(device, tmp_path)
    try:
        ha = await HouseArrestService.create(ld, "com.example.voicemail")
        assert sorted(await ha.listdir("/")) == ["Documents", "Library"]
        assert await ha.listdir("/Library/Caches") == ["vm-0001.amr"]
        await ha.close()
        docs = await HouseArrestService.create(ld, "com.example.voicemail", documents_only=True)
        assert await docs.listdir("/") == ["Documents"]
        assert await docs.listdir("/Documents") == ["greeting.amr"]
        await docs.close()
        with pytest.raises(AppNotInstalledError):
            await HouseArrestService.create(ld, "com.example.absent")
    finally:
        await ld.close()


async def test_house_arrest_of_an_encrypted_image_fails_lookup(
    encrypted_image, tmp_path, monkeypatch
):
    with VirtualIosDevice(encrypted_image) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.socket_path)
        ld = await lockdown(dev, tmp_path)
        try:
            assert await ld.get_value("com.apple.mobile.backup", "WillEncrypt") is True
            with pytest.raises(PyMobileDevice3Exception, match="InstallationLookupFailed"):
                await HouseArrestService.create(ld, "com.example.voicemail")
        finally:
            await ld.close()


async def test_crash_reports_generated_and_from_the_image_folder(
    device, plain_image, tmp_path
) -> None:
    ld = await lockdown(device, tmp_path)
    try:
        async with CrashReportsManager(ld) as cm:
            await cm.flush()
            listed = await cm.ls("/")
            assert len(listed) == 1 and listed[0].endswith(".ips")
            out = tmp_path / "crash"
            out.mkdir()
            await cm.pull(str(out), erase=False, progress_bar=False)
            pulled = list(out.rglob("*.ips"))
            assert len(pulled) == 1 and b'"bug_type":"109"' in pulled[0].read_bytes()
    finally:
        await ld.close()
    (plain_image / "CrashReporter" / "Retired").mkdir(parents=True)
    (plain_image / "CrashReporter" / "Retired" / "x.ips").write_bytes(b"report")
    with VirtualIosDevice(plain_image) as dev2:
        ld = await create_using_usbmux(
            serial=dev2.udid,
            autopair=False,
            pair_record=dev2.pair_record,
            pairing_records_cache_folder=tmp_path / "pairing",
            usbmux_address=dev2.socket_path,
        )
        try:
            async with CrashReportsManager(ld) as cm:
                assert await cm.ls("/", depth=-1) == ["/Retired", "/Retired/x.ips"]
        finally:
            await ld.close()


@pytest.mark.parametrize("encrypted", [False, True])
async def test_backup_reproduces_the_image_folder(tmp_path, monkeypatch, encrypted) -> None:
    image = build_backup(tmp_path / "image", password="s3cret" if encrypted else None)
    with VirtualIosDevice(image) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.socket_path)
        ld = await lockdown(dev, tmp_path)
        progress: list[float] = []
        try:
            await Mobilebackup2Service(ld).backup(
                full=True, backup_directory=tmp_path / "out", progress_callback=progress.append
            )
        finally:
            await ld.close()
    out = tmp_path / "out" / dev.udid
    # Info.plist is written by the host from lockdown values; everything else is the device's.
    assert same_tree(image, out, ignore=("Info.plist",)) == []
    info = plistlib.loads((out / "Info.plist").read_bytes())
    assert info["Target Identifier"] == dev.udid and info["Product Version"] == "17.5"
    assert plistlib.loads((out / "Manifest.plist").read_bytes())["IsEncrypted"] is encrypted
    assert progress == sorted(progress) and len(progress) >= 3
    if encrypted:
        db = (out / "Manifest.db").read_bytes()
        assert not db.startswith(b"SQLite format 3")


async def test_locked_device_refuses_services(plain_image, tmp_path, monkeypatch) -> None:
    with VirtualIosDevice(plain_image, locked=True) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.socket_path)
        ld = await lockdown(dev, tmp_path)
        try:
            with pytest.raises(PasswordRequiredError):
                async with AfcService(ld) as afc:
                    await afc.listdir("/")
        finally:
            await ld.close()


async def test_pulled_cable_mid_backup(plain_image, tmp_path, monkeypatch) -> None:
    with VirtualIosDevice(plain_image, fail_after_bytes=2000) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.socket_path)
        ld = await lockdown(dev, tmp_path)
        with pytest.raises((ConnectionTerminatedError, ConnectionError, OSError)):
            await Mobilebackup2Service(ld).backup(full=True, backup_directory=tmp_path / "out")
        assert dev.detached
        assert await list_devices() == []
        assert ("usbmuxd", "cable pulled") in dev.requests
        with pytest.raises(Exception):  # noqa: B017 - any failure: the phone is gone
            await ld.get_value()
        dev.reattach()
        assert [d.serial for d in await list_devices()] == [dev.udid]


async def test_destructive_backup_requests_are_refused(device, tmp_path) -> None:
    ld = await lockdown(device, tmp_path)
    try:
        with pytest.raises(PyMobileDevice3Exception):
            await Mobilebackup2Service(ld).erase_device(tmp_path)
        with pytest.raises((PyMobileDevice3Exception, AssertionError)):
            await Mobilebackup2Service(ld).change_password(tmp_path, new="x")
    finally:
        await ld.close()
    assert ("com.apple.mobilebackup2", "EraseDevice") in device.requests


async def test_serves_the_mvt_corpus_backup(tmp_path, monkeypatch) -> None:
    if not (CORPUS / "Manifest.db").is_file():
        pytest.skip(f"shared corpus not available at {CORPUS}")
    before = {
        p: hashlib.sha256(p.read_bytes()).hexdigest() for p in CORPUS.rglob("*") if p.is_file()
    }
    with VirtualIosDevice(CORPUS) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.socket_path)
        ld = await lockdown(dev, tmp_path)
        try:
            assert ld.all_values["ProductVersion"].startswith("14.")
            await Mobilebackup2Service(ld).backup(full=True, backup_directory=tmp_path / "out")
        finally:
            await ld.close()
    out = tmp_path / "out" / dev.udid
    # The corpus lacks Manifest.plist and Status.plist; the device makes them up, the rest is
    # sent byte for byte.
    assert same_tree(CORPUS, out, ignore=("Info.plist", "Manifest.plist", "Status.plist")) == []
    assert plistlib.loads((out / "Status.plist").read_bytes())["SnapshotState"] == "finished"
    after = {
        p: hashlib.sha256(p.read_bytes()).hexdigest() for p in CORPUS.rglob("*") if p.is_file()
    }
    assert before == after


def test_sample_files_cover_every_kind() -> None:
    kinds = {f.domain.split("-")[0] for f in default_files()}
    assert kinds == {"MediaDomain", "HomeDomain", "AppDomain"}
    assert SampleFile("D", "p", None).data is None


async def test_listen_reports_attach_and_detach(plain_image, tmp_path, monkeypatch) -> None:
    from pymobiledevice3.usbmux import create_mux

    with VirtualIosDevice(plain_image, fail_after_bytes=500) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.socket_path)
        mux = await create_mux()
        try:
            await mux.listen()
            await mux.receive_device_state_update()
            assert [d.serial for d in mux.devices] == [dev.udid]
            ld = await lockdown(dev, tmp_path)
            with pytest.raises((ConnectionTerminatedError, ConnectionError, OSError)):
                await Mobilebackup2Service(ld).backup(full=True, backup_directory=tmp_path / "o")
            await mux.receive_device_state_update()
            assert mux.devices == []
        finally:
            await mux.close()


def test_hostile_image_is_served_without_escaping_it(tmp_path: Path) -> None:
    image = build_backup(tmp_path / "image")
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"not part of the image")
    jpg = file_id("MediaDomain", "Media/DCIM/100APPLE/IMG_0001.JPG")
    (image / jpg[:2] / jpg).unlink()
    (image / jpg[:2] / jpg).symlink_to(outside)  # a payload that is a link out of the folder
    (image / "zz").mkdir()
    (image / "zz" / "link").symlink_to(outside)
    with VirtualIosDevice(image) as dev:
        names = [name for name, _src, _dev in dev.image.backup_files()]
        tree = dev._media_tree()
    assert f"{jpg[:2]}/{jpg}" not in names and "zz/link" not in names
    assert tree.lookup("DCIM/100APPLE/IMG_0001.JPG") is None
    assert tree.lookup("../../secret.txt") is None


def test_corrupt_manifest_db_still_serves_the_backup(tmp_path: Path) -> None:
    image = build_backup(tmp_path / "image")
    (image / "Manifest.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    with VirtualIosDevice(image) as dev:
        assert dev.image.records == [] and dev.image.problems
        assert dev.udid == "00008030-001a2b3c4d5e6f70"  # from Manifest.plist
        assert "Manifest.db" in [n for n, _s, _d in dev.image.backup_files()]


def test_not_a_backup_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an iOS backup folder"):
        VirtualIosDevice(tmp_path)


def test_run_forever_announces_the_address_and_stops(plain_image, tmp_path) -> None:
    import threading

    from vmforensics.virtual.ios import run_forever

    stop = threading.Event()
    seen: list[str] = []
    sock = str(tmp_path / "mux.sock")

    def ready(address: str) -> None:
        seen.append(address)
        assert Path(sock).exists()
        stop.set()

    run_forever(plain_image, socket_path=sock, ready=ready, stop=stop)
    assert seen == [f"UNIX:{sock}"]
    assert not Path(sock).exists()


def test_a_file_id_that_climbs_out_is_skipped(tmp_path: Path) -> None:
    import sqlite3

    image = build_backup(tmp_path / "image")
    (tmp_path / "secret.txt").write_bytes(b"outside")
    con = sqlite3.connect(image / "Manifest.db")
    con.execute(
        "UPDATE Files SET fileID = '../../secret.txt' WHERE relativePath = ?",
        ("Media/DCIM/100APPLE/IMG_0001.JPG",),
    )
    con.commit()
    con.close()
    with VirtualIosDevice(image) as dev:
        assert any("not 40 hex digits" in p for p in dev.image.problems)
        assert dev._media_tree().lookup("DCIM/100APPLE/IMG_0001.JPG") is None


async def test_encrypted_image_shows_plain_media_with_its_password(tmp_path, monkeypatch):
    image = build_backup(tmp_path / "image", password="s3cret")
    with pytest.raises(ValueError, match="wrong password"):
        VirtualIosDevice(image, password="nope")
    rel = "Media/Recordings/20240101 120000.m4a"
    plain = next(f.data for f in default_files() if f.relative_path == rel)
    with VirtualIosDevice(image, password="s3cret") as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.socket_path)
        ld = await lockdown(dev, tmp_path)
        try:
            async with AfcService(ld) as afc:
                assert await afc.get_file_contents("/Recordings/20240101 120000.m4a") == plain
                assert (await afc.stat("/Recordings/20240101 120000.m4a"))["st_size"] == len(plain)
            with pytest.raises(PyMobileDevice3Exception, match="InstallationLookupFailed"):
                await HouseArrestService.create(ld, "com.example.voicemail")
            await Mobilebackup2Service(ld).backup(full=True, backup_directory=tmp_path / "out")
        finally:
            await ld.close()
        cache = dev.image._cache
        assert cache is not None and cache.is_dir()
    assert not cache.exists()  # decrypted copies go when the phone stops
    out = tmp_path / "out" / dev.udid
    assert same_tree(image, out, ignore=("Info.plist",)) == []  # still the ciphertext


async def test_on_request_sees_requests_live(plain_image, tmp_path, monkeypatch) -> None:
    seen: list[tuple[str, str]] = []

    def broken(service: str, text: str) -> None:
        seen.append((service, text))
        raise RuntimeError("a display bug")

    with VirtualIosDevice(plain_image, on_request=broken) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.socket_path)
        ld = await lockdown(dev, tmp_path)
        await ld.close()
    assert ("lockdown", "QueryType") in seen and list(dev.requests) == seen
