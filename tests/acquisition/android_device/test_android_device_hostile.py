"""A phone that lies: hostile tar streams, and a large file pulled in bounded memory."""

from __future__ import annotations

import io
import sys
import tarfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "vmforensics" / "virtual"))
from adb_image_builder import CONTACTS, build_image

from acquisition.android_device import AndroidDeviceSource
from acquisition.base import Entry, EntryKind, Problem
from vmforensics.virtual.adb import VirtualAdbDevice
from vmforensics.virtual.adb.shell import SHELL, Shell, User

pytestmark = pytest.mark.timeout(60)


def _hostile_tar() -> bytes:
    buf = io.BytesIO()
    tf = tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT)

    def add(name: str, data: bytes = b"", **kw: object) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        for k, v in kw.items():
            setattr(info, k, v)
        tf.addfile(info, io.BytesIO(data) if data else None)

    add(f"{CONTACTS}/databases/ok.db", b"fine")
    add(f"{CONTACTS}/../../../../etc/evil", b"escape")
    add("/abs/olute", b"absolute")
    add(f"{CONTACTS}/link", type=tarfile.SYMTYPE, linkname="/etc/passwd")
    add(f"{CONTACTS}/fifo", type=tarfile.FIFOTYPE)
    members = buf.getvalue()  # before close(): no end-of-archive blocks yet
    # a last member whose header claims far more bytes than the stream carries
    liar = tarfile.TarInfo(f"{CONTACTS}/liar.amr")
    liar.size = 10_000_000
    return members + liar.tobuf(tarfile.GNU_FORMAT) + b"#!AMR\n" + bytes(500)


class HostileShell(Shell):
    def run(self, line: str, user: User = SHELL) -> Iterator[bytes]:
        if line.startswith("su -c 'tar"):
            return iter([_hostile_tar()])
        return super().run(line, user)


def test_hostile_tar_names_are_kept_safe_and_reported(tmp_path):
    build_image(tmp_path / "img")
    work = tmp_path / "case" / "tmp" / "android"
    entries: list[Entry] = []
    problems: list[Problem] = []
    with VirtualAdbDevice(tmp_path / "img", root=True) as dev:
        dev.shell = HostileShell(dev.image, root_available=True)
        src = AndroidDeviceSource(dev.address, workdir=work, key_dir=tmp_path / "keys")
        with src:
            for item in src.entries():
                (entries if isinstance(item, Entry) else problems).append(item)
                if isinstance(item, Entry) and item.kind == EntryKind.FILE:
                    item.open().read()
    paths = {e.path: e for e in entries}
    for path in paths:
        assert not path.startswith("/") and ".." not in path.split("/"), path
    assert paths[f"data/data/{CONTACTS}/databases/ok.db"].size == 4
    escaped = [p for p in paths if p.endswith("etc/evil")]
    assert escaped and "%2E%2E" in escaped[0]
    assert "data/data/abs/olute" in paths
    assert paths[f"data/data/{CONTACTS}/link"].kind == EntryKind.SYMLINK
    assert paths[f"data/data/{CONTACTS}/link"].opener is None
    assert paths[f"data/data/{CONTACTS}/fifo"].kind == EntryKind.OTHER
    messages = " | ".join(p.message for p in problems)
    assert "'..' component" in messages and "absolute path" in messages
    liar = paths[f"data/data/{CONTACTS}/liar.amr"]
    assert liar.meta["incomplete"] and liar.size == 506
    assert liar.open().read() == b"#!AMR\n" + bytes(500)
    assert any("truncated" in p.message for p in problems)
    # nothing landed anywhere but the spool folder the caller gave
    assert not (tmp_path / "etc").exists() and not (tmp_path / "case" / "etc").exists()
    assert {p.parent for p in work.rglob("*")} == {work}
    assert all((p.stat().st_mode & 0o077) == 0 for p in work.iterdir())


def test_large_pull_streams_in_bounded_memory(tmp_path):
    """A 24 MB recording crosses the wire and the spool without being held in memory."""
    size = 24 * 1024 * 1024
    files = build_image(tmp_path / "img", big_shared_file=size)
    size = len(files["sdcard/Recordings/long.amr"])
    progress: list[tuple[str, int, int | None]] = []
    with VirtualAdbDevice(tmp_path / "img") as dev:
        src = AndroidDeviceSource(
            dev.address,
            workdir=tmp_path / "work",
            key_dir=tmp_path / "keys",
            on_progress=lambda what, done, total: progress.append((what, done, total)),
        )
        tracemalloc.start()
        try:
            with src:
                for item in src.entries():
                    if isinstance(item, Entry) and item.path == "sdcard/Recordings/long.amr":
                        got = item.size
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert got == size
    print(f"peak traced memory {peak} bytes for a {size}-byte pull")
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes"
    mine = [p for p in progress if p[0] == "sdcard/Recordings/long.amr"]
    assert mine[-1] == ("sdcard/Recordings/long.amr", size, size)
    assert [d for _, d, _ in mine] == sorted(d for _, d, _ in mine)


class OddPackagesShell(Shell):
    def run(self, line: str, user: User = SHELL) -> Iterator[bytes]:
        if line == "pm list packages":
            return iter(
                [
                    b"package:com.android.providers.contacts\n",
                    b"package:com.x'; rm -rf /sdcard; echo '\n",
                    b"package:../../data/system\n",
                ]
            )
        if line.startswith("content query"):
            return iter([b"Row: 0 " + b"x" * 5000 + b"\n"])
        return super().run(line, user)


def test_odd_package_names_never_reach_a_command_and_long_answers_are_capped(tmp_path, monkeypatch):
    from acquisition.android_device import session

    build_image(tmp_path / "img")
    problems: list[Problem] = []
    with VirtualAdbDevice(tmp_path / "img", root=True) as dev:
        dev.shell = OddPackagesShell(dev.image, root_available=True)
        src = AndroidDeviceSource(
            dev.address, workdir=tmp_path / "w", key_dir=tmp_path / "k", profile="full"
        )
        with src:
            monkeypatch.setattr(session, "MAX_TEXT_REPLY", 4096)
            for item in src.entries():
                if isinstance(item, Problem):
                    problems.append(item)
            assert src.complete  # a refused answer is not a lost connection
        requests = list(dev.requests)
    assert not any("rm -rf" in r or "../" in r for r in requests)
    assert any("tar -cf - -C /data/data com.android.providers.contacts" in r for r in requests)
    assert any("package names not used" in p.message and "rm -rf" in p.message for p in problems)
    assert any("content query" in p.message and "longer than 4096" in p.message for p in problems)


def test_names_that_are_not_utf8_are_pulled_and_named_printably(tmp_path):
    root = tmp_path / "img"
    build_image(root)
    raw_name = b"caf\xe9-voicemail.amr"
    music = bytes(root / "sdcard" / "Music")
    with open(music + b"/" + raw_name, "wb") as fh:
        fh.write(b"#!AMR\n" + bytes(64))
    got: dict[str, Entry] = {}
    with VirtualAdbDevice(root) as dev:
        src = AndroidDeviceSource(dev.address, workdir=tmp_path / "w", key_dir=tmp_path / "k")
        with src:
            for item in src.entries():
                if isinstance(item, Entry) and item.kind == EntryKind.FILE:
                    got[item.path] = item
                    assert item.open().read()
            assert src.complete
    (name,) = [p for p in got if "voicemail.amr" in p and "caf" in p]
    name.encode("utf-8")  # printable, no surrogates left for JSON writers to choke on
    assert name == "sdcard/Music/caf\\xe9-voicemail.amr"
    assert got[name].size == 70
    assert got[name].origin == "/sdcard/Music/caf\\xe9-voicemail.amr"
