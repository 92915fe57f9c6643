"""The virtual ADB device, driven by the real adb-shell client and by raw packets."""

from __future__ import annotations

import hashlib
import io
import socket
import sqlite3
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest
from adb_image_builder import CONTACTS, DB_REL, VM_REL, build_image
from adb_shell import exceptions as adb_exc
from adb_shell.adb_device import AdbDeviceTcp
from adb_shell.auth.keygen import keygen
from adb_shell.auth.sign_cryptography import CryptographySigner
from adb_shell.auth.sign_pycryptodome import PycryptodomeAuthSigner
from adb_shell.auth.sign_pythonrsa import PythonRSASigner
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from vmforensics.virtual.adb import ImageError, VirtualAdbDevice

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("keys") / "adbkey"
    keygen(str(path))
    return str(path)


@pytest.fixture()
def image(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path / "image"
    files = build_image(
        root,
        device={
            "serial": "TESTSERIAL42",
            "model": "Pixel Test",
            "android_version": "13",
            "debuggable_packages": ["com.example.debuggable"],
            "clock_offset_s": 3600,
        },
        extra_packages={
            "com.example.debuggable": {"files/vm.amr": b"#!AMR\n" + bytes(32)},
            "com.example.private": {"databases/p.db": b"x" * 100},
        },
    )
    return root, files


def connect(dev: VirtualAdbDevice, key: str) -> AdbDeviceTcp:
    client = AdbDeviceTcp(dev.host, dev.port, default_transport_timeout_s=10)
    client.connect(rsa_keys=[PythonRSASigner.FromRSAKeyPath(key)], auth_timeout_s=10)
    return client


# -- transport and auth ---------------------------------------------------------------


@pytest.mark.parametrize("signer_kind", ["pythonrsa", "cryptography"])
def test_key_prompt_then_signature_accepted(image, key, signer_kind):
    signer = (
        PythonRSASigner.FromRSAKeyPath(key)
        if signer_kind == "pythonrsa"
        else CryptographySigner(key)
    )
    with VirtualAdbDevice(image[0]) as dev:
        for _ in range(2):
            client = AdbDeviceTcp(dev.host, dev.port, default_transport_timeout_s=10)
            assert client.connect(rsa_keys=[signer], auth_timeout_s=10)
            client.close()
        # first connection: unknown key, so the user is prompted; second: signature works
        assert dev.auth_log == [
            "signature rejected",
            "public key offered: user prompted",
            "user allowed the key",
            "signature accepted",
        ]


def test_pycryptodome_signer_is_rejected_as_adbd_would(image, key):
    """adb-shell's PycryptodomeAuthSigner hashes the token again: adbd prompts every time."""
    with VirtualAdbDevice(image[0]) as dev:
        for _ in range(2):
            client = AdbDeviceTcp(dev.host, dev.port, default_transport_timeout_s=10)
            client.connect(rsa_keys=[PycryptodomeAuthSigner(key)], auth_timeout_s=10)
            client.close()
        assert "signature accepted" not in dev.auth_log
        assert dev.auth_log.count("public key offered: user prompted") == 2


def test_user_refusing_the_key_means_no_connection(image, key):
    with VirtualAdbDevice(image[0], accept_new_keys=False) as dev:
        client = AdbDeviceTcp(dev.host, dev.port, default_transport_timeout_s=5)
        with pytest.raises((OSError, adb_exc.AdbTimeoutError, adb_exc.TcpTimeoutException)):
            client.connect(
                rsa_keys=[PythonRSASigner.FromRSAKeyPath(key)], auth_timeout_s=1, read_timeout_s=1
            )
        assert dev.auth_log[-1] == "user did not allow the key"


def _raw_packet(sock: socket.socket) -> tuple[bytes, int, int, bytes, int]:
    def exact(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            assert chunk, "device closed the connection"
            buf += chunk
        return buf

    cmd, a0, a1, length, check, magic = struct.unpack("<6I", exact(24))
    assert magic == cmd ^ 0xFFFFFFFF
    return struct.pack("<I", cmd), a0, a1, exact(length), check


def _send(sock: socket.socket, cmd: bytes, a0: int, a1: int, data: bytes = b"") -> None:
    c = struct.unpack("<I", cmd)[0]
    sock.sendall(struct.pack("<6I", c, a0, a1, len(data), sum(data) & 0xFFFFFFFF, c ^ 0xFFFFFFFF))
    sock.sendall(data)


@pytest.mark.parametrize(("version", "checked"), [(0x01000000, True), (0x01000001, False)])
def test_checksums_follow_the_negotiated_version(image, version, checked):
    with (
        VirtualAdbDevice(image[0], require_auth=False) as dev,
        socket.create_connection((dev.host, dev.port), timeout=10) as sock,
    ):
        _send(sock, b"CNXN", version, 1 << 20, b"host::\0")
        cmd, a0, _a1, banner, check = _raw_packet(sock)
        assert cmd == b"CNXN" and a0 == 0x01000001
        assert b"ro.product.model=Pixel Test;" in banner
        _send(sock, b"OPEN", 7, 0, b"sync:\0")
        cmd, local, remote, _, _ = _raw_packet(sock)
        assert (cmd, remote) == (b"OKAY", 7)
        path = b"/sdcard/Music/voicemail-shared-1.amr"
        _send(sock, b"WRTE", 7, local, b"RECV" + struct.pack("<I", len(path)) + path)
        assert _raw_packet(sock)[0] == b"OKAY"
        stream = b""
        sizes = []
        while not stream.endswith(b"DONE\0\0\0\0"):
            cmd, _, _, data, check = _raw_packet(sock)
            assert cmd == b"WRTE"
            assert check == ((sum(data) & 0xFFFFFFFF) if checked else 0)
            stream += data
            _send(sock, b"OKAY", 7, local)
        pos, content = 0, b""
        while stream[pos : pos + 4] == b"DATA":
            (n,) = struct.unpack_from("<I", stream, pos + 4)
            sizes.append(n)
            content += stream[pos + 8 : pos + 8 + n]
            pos += 8 + n
        assert stream[pos:] == b"DONE\0\0\0\0"
        expected = (image[0] / "sdcard/Music/voicemail-shared-1.amr").read_bytes()
        assert content == expected
        assert max(sizes) <= 64 * 1024


# -- shell commands ---------------------------------------------------------------------


def test_properties_clock_and_identity(image, key):
    import time

    with VirtualAdbDevice(image[0]) as dev:
        client = connect(dev, key)
        assert dev.serial == "TESTSERIAL42"
        assert client.shell("getprop ro.serialno").strip() == "TESTSERIAL42"
        assert client.shell("getprop ro.build.version.release").strip() == "13"
        assert "[ro.product.model]: [Pixel Test]" in client.shell("getprop")
        offset = int(client.shell("date +%s")) - time.time()
        assert 3598 <= offset <= 3601
        assert client.shell("id").startswith("uid=2000(shell)")
        assert client.shell("pm list packages").splitlines() == [
            f"package:{CONTACTS}",
            "package:com.example.debuggable",
            "package:com.example.private",
        ]


def test_shell_user_cannot_read_app_data(image, key):
    with VirtualAdbDevice(image[0]) as dev:
        client = connect(dev, key)
        assert client.list("/data/data") == []
        with pytest.raises(adb_exc.AdbCommandFailureException, match="Permission denied"):
            client.pull("/" + DB_REL, io.BytesIO())
        out = client.exec_out(f"tar -cf - -C /data/data {CONTACTS}")
        assert out == f"tar: {CONTACTS}: Permission denied\n"
        assert client.shell("su -c id") == "/system/bin/sh: su: inaccessible or not found\n"
        assert "Permission denied" in client.shell(f"cat /{DB_REL}")


def test_root_tar_is_a_real_archive_of_the_folder(image, key):
    root, files = image
    with VirtualAdbDevice(root, root=True) as dev:
        client = connect(dev, key)
        assert client.shell("su 0 id").startswith("uid=0(root)")
        raw = client.exec_out(f"su -c 'tar -cf - -C /data/data {CONTACTS}'", decode=False)
        with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
            got = {m.name: tf.extractfile(m).read() for m in tf if m.isfile()}
        assert got[f"{CONTACTS}/app_voicemail-data/voicemail123"] == files[VM_REL]
        assert got[f"{CONTACTS}/databases/calllog.db"] == files[DB_REL]


def test_run_as_only_for_debuggable_packages(image, key):
    with VirtualAdbDevice(image[0]) as dev:
        client = connect(dev, key)
        raw = client.exec_out("run-as com.example.debuggable tar -cf - .", decode=False)
        with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
            assert tf.extractfile("./files/vm.amr").read() == b"#!AMR\n" + bytes(32)
        assert (
            client.exec_out("run-as com.example.debuggable cat files/vm.amr", decode=False)[:6]
            == b"#!AMR\n"
        )
        assert (
            client.shell("run-as com.example.private ls")
            == "run-as: package not debuggable: com.example.private\n"
        )
        assert client.shell("run-as com.nope ls") == "run-as: unknown package: com.nope\n"
        # an app sandbox is not a door to the others
        assert "Permission denied" in client.shell(f"run-as com.example.debuggable cat /{DB_REL}")


def test_content_query_rows_and_security_exception(tmp_path, key):
    closed = tmp_path / "closed"
    build_image(closed)
    opened = tmp_path / "open"
    build_image(opened, device={"voicemail_provider_readable": True})
    uri = "content://com.android.voicemail/voicemail"
    with VirtualAdbDevice(closed) as dev:
        out = connect(dev, key).shell(f"content query --uri {uri}")
        assert out.startswith("Error while accessing provider:com.android.voicemail\n")
        assert "java.lang.SecurityException: Permission Denial" in out
        calls = connect(dev, key).shell("content query --uri content://call_log/calls")
        assert calls.count("Row: ") == 2
    with VirtualAdbDevice(opened) as dev:
        out = connect(dev, key).shell(f"content query --uri {uri}")
        assert out == (
            "Row: 0 _id=1, number=+15551230001, date=1700000000000, duration=12, type=4, "
            f"_data=/{VM_REL}, source_package=com.android.phone, transcription=call me back\n"
        )
    # the image's database was only read
    assert sqlite3.connect(opened / DB_REL).execute("SELECT count(*) FROM calls").fetchone() == (2,)


# -- sync ---------------------------------------------------------------------------------


def test_sync_list_stat_pull_and_missing(image, key):
    root, files = image
    with VirtualAdbDevice(root) as dev:
        client = connect(dev, key)
        names = [bytes(f.filename) for f in client.list("/sdcard")]
        assert names[:2] == [b".", b".."]
        assert set(names[2:]) == {b"DCIM", b"Download", b"Music"}
        same = [bytes(f.filename) for f in client.list("/storage/emulated/0/Music")]
        assert same == [b".", b"..", b"voicemail-shared-1.amr"]
        mode, size, _ = client.stat("/sdcard/Music/voicemail-shared-1.amr")
        assert size == len(files["sdcard/Music/voicemail-shared-1.amr"]) and mode & 0o100000
        assert client.stat("/sdcard/none") == (0, 0, 0)
        out = io.BytesIO()
        client.pull("/sdcard/Music/voicemail-shared-1.amr", out)
        assert out.getvalue() == files["sdcard/Music/voicemail-shared-1.amr"]
        with pytest.raises(adb_exc.AdbCommandFailureException, match="No such file"):
            client.pull("/sdcard/none", io.BytesIO())
        # device.json is the image's description, not a file on the phone
        assert b"device.json" not in [bytes(f.filename) for f in client.list("/")]


def test_send_is_refused_and_nothing_is_written(image, key, tmp_path):
    root, _ = image
    local = tmp_path / "push.txt"
    local.write_bytes(b"should not arrive")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    with VirtualAdbDevice(root) as dev:
        client = connect(dev, key)
        with pytest.raises((adb_exc.PushFailedError, adb_exc.AdbCommandFailureException)):
            client.push(str(local), "/sdcard/Download/push.txt")
        with pytest.raises(Exception):  # noqa: B017 - adbd refuses root:, the client gives up
            client.root(read_timeout_s=0.5)
        assert "root:" in dev.requests
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


# -- adb backup ---------------------------------------------------------------------------


def _decode_ab(data: bytes, password: str | None) -> dict[str, bytes]:
    """An independent .ab reader (cryptography + hashlib), to check the device's writer."""
    head, rest = data.split(b"\n", 4)[:4], data.split(b"\n", 4)[4]
    assert head[0] == b"ANDROID BACKUP" and head[1] == b"5" and head[2] == b"1"
    if head[3] == b"AES-256":
        lines = rest.split(b"\n", 5)
        salt, ck_salt = bytes.fromhex(lines[0].decode()), bytes.fromhex(lines[1].decode())
        rounds, iv = int(lines[2]), bytes.fromhex(lines[3].decode())
        blob, body = bytes.fromhex(lines[4].decode()), lines[5]
        user_key = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, rounds, 32)
        dec = Cipher(algorithms.AES(user_key), modes.CBC(iv)).decryptor()
        plain = dec.update(blob) + dec.finalize()
        unp = sym_padding.PKCS7(128).unpadder()
        plain = unp.update(plain) + unp.finalize()
        m_iv, m_key, check = plain[1:17], plain[18:50], plain[51:83]
        widened = "".join(chr(b if b < 0x80 else 0xFF00 | b) for b in m_key).encode("utf-8")
        assert hashlib.pbkdf2_hmac("sha1", widened, ck_salt, rounds, 32) == check
        dec = Cipher(algorithms.AES(m_key), modes.CBC(m_iv)).decryptor()
        padded = dec.update(body) + dec.finalize()
        unp = sym_padding.PKCS7(128).unpadder()
        rest = unp.update(padded) + unp.finalize()
    else:
        assert head[3] == b"none"
    tar_bytes = zlib.decompress(rest)
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tf:
        members = list(tf)
        assert members[0].name == f"apps/{members[0].name.split('/')[1]}/_manifest"
        return {m.name: tf.extractfile(m).read() for m in members if m.isfile()}


@pytest.mark.parametrize("password", [None, "s3cret-ü"])
def test_backup_service_streams_a_real_ab(tmp_path, key, password):
    root = tmp_path / "img"
    files = build_image(root, device={"backup": {"password": password}} if password else None)
    with VirtualAdbDevice(root) as dev:
        client = connect(dev, key)
        ab = b"".join(
            client._streaming_service(b"backup", f" -noapk {CONTACTS}".encode(), decode=False)
        )
        via_bu = client.exec_out(f"bu backup -noapk {CONTACTS}", decode=False)
    assert (b"AES-256" in ab[:40]) == bool(password)
    got = _decode_ab(ab, password)
    assert got[f"apps/{CONTACTS}/db/calllog.db"] == files[DB_REL]
    assert got[f"apps/{CONTACTS}/r/app_voicemail-data/voicemail123"] == files[VM_REL]
    assert got[f"apps/{CONTACTS}/sp/vvm.xml"].startswith(b"<map>")
    assert _decode_ab(via_bu, password).keys() == got.keys()
    assert got[f"apps/{CONTACTS}/_manifest"].split(b"\n")[:2] == [b"1", CONTACTS.encode()]


def test_backup_refused_on_screen_gives_nothing(tmp_path, key):
    root = tmp_path / "img"
    build_image(root, device={"backup": {"confirm": False}})
    with VirtualAdbDevice(root) as dev:
        client = connect(dev, key)
        assert client.exec_out(f"bu backup {CONTACTS}", decode=False) == b""


def test_backup_with_android_backup_reader(tmp_path, key):
    """Cross-check with the project's own offline .ab reader when it is present."""
    reader = pytest.importorskip("acquisition.android_backup")
    root = tmp_path / "img"
    files = build_image(root, device={"backup": {"password": "1234"}})
    with VirtualAdbDevice(root) as dev:
        ab = connect(dev, key).exec_out(f"bu backup -noapk {CONTACTS}", decode=False)
    stream = reader.decrypted_tar_stream(io.BytesIO(ab), "1234")
    with tarfile.open(fileobj=stream, mode="r|") as tf:
        got = {m.name: tf.extractfile(m).read() for m in tf if m.isfile()}
    assert got[f"apps/{CONTACTS}/db/calllog.db"] == files[DB_REL]


# -- images -------------------------------------------------------------------------------


def test_tar_and_zip_images_are_served(tmp_path, key):
    root = tmp_path / "img"
    files = build_image(root, device={"serial": "ZIPPED"})
    tar_path = tmp_path / "img.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tf:
        tf.add(root, arcname="image")
    zip_path = tmp_path / "img.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(root).as_posix())
    for archive in (tar_path, zip_path):
        with VirtualAdbDevice(archive) as dev:
            assert dev.serial == "ZIPPED"
            out = io.BytesIO()
            connect(dev, key).pull("/sdcard/Download/notes.txt", out)
            assert out.getvalue() == files["sdcard/Download/notes.txt"]
            unpacked = dev.image.root
        assert not unpacked.exists()  # the temporary folder goes with the device


@pytest.mark.parametrize("bad", ["../evil", "/abs", "link"])
def test_unsafe_archive_members_are_refused(tmp_path, bad):
    archive = tmp_path / "bad.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo(bad)
        if bad == "link":
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tf.addfile(info)
        else:
            info.size = 1
            tf.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ImageError, match=r"bad\.tar|unsafe"):
        VirtualAdbDevice(archive)
    assert not (tmp_path.parent / "evil").exists()


def test_drop_mid_transfer_cuts_the_connection(image, key):
    root, files = image
    with VirtualAdbDevice(root, fail_after_bytes=1000, fail_in_service="sync:") as dev:
        client = AdbDeviceTcp(dev.host, dev.port, default_transport_timeout_s=5)
        client.connect(rsa_keys=[PythonRSASigner.FromRSAKeyPath(key)], auth_timeout_s=5)
        assert client.shell("getprop ro.serialno").strip() == "TESTSERIAL42"  # not counted
        with pytest.raises((OSError, adb_exc.AdbTimeoutError, adb_exc.TcpTimeoutException)):
            client.pull("/sdcard/Music/voicemail-shared-1.amr", io.BytesIO(), read_timeout_s=0.5)
        assert dev.drops == 1
        # the phone is back: a new connection works (fail_once)
        out = io.BytesIO()
        connect(dev, key).pull("/sdcard/Music/voicemail-shared-1.amr", out)
        assert out.getvalue() == files["sdcard/Music/voicemail-shared-1.amr"]


def test_run_forever_serves_until_interrupted(tmp_path, key):
    """What ``vmforensics simulate android`` runs: prints the address, stops on a signal."""
    import signal
    import subprocess
    import sys

    root = tmp_path / "img"
    build_image(root, device={"serial": "FOREVER"})
    archive = tmp_path / "img.tar"
    with tarfile.open(archive, "w") as tf:
        tf.add(root, arcname=".")
    code = (
        "import sys, tempfile\n"
        "from vmforensics.virtual.adb import run_forever\n"
        "run_forever(sys.argv[1], port=0, root=False,"
        " ready=lambda a: print(a, tempfile.gettempdir(), flush=True))\n"
    )
    env_tmp = tmp_path / "proc-tmp"
    env_tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(archive)],
        stdout=subprocess.PIPE,
        text=True,
        env={**__import__("os").environ, "TMPDIR": str(env_tmp)},
    )
    try:
        address = proc.stdout.readline().split()[0]
        host, port = address.rsplit(":", 1)
        assert host == "127.0.0.1"
        client = AdbDeviceTcp(host, int(port), default_transport_timeout_s=10)
        client.connect(rsa_keys=[PythonRSASigner.FromRSAKeyPath(key)], auth_timeout_s=10)
        assert client.shell("getprop ro.serialno").strip() == "FOREVER"
        assert any(env_tmp.iterdir())  # the archive was unpacked into a temporary folder
        client.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not any(env_tmp.iterdir())  # and removed on the way out
