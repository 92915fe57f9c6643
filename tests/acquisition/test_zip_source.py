"""Zip sources: Android layout, times, hostile names, encrypted members, zip bombs."""

from __future__ import annotations

import io
import random
import struct
import zipfile
from pathlib import Path

import pytest
from source_reading import read_all

from acquisition.base import EntryKind
from acquisition.errors import NotRecognised
from acquisition.ziparchive import ZipSource

PKG = "com.android.providers.contacts"


def make_zip(path: Path, members, compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for item in members:
            if isinstance(item, zipfile.ZipInfo):
                zf.writestr(item, item.comment or b"")
                continue
            name, data = item
            info = zipfile.ZipInfo(name, (2020, 1, 2, 3, 4, 6))
            info.compress_type = compression
            info.external_attr = (0o100640 << 16) if not name.endswith("/") else (0o40755 << 16)
            info.create_system = 3
            zf.writestr(info, data)
    return path


def test_android_zip_is_normalised(tmp_path):
    members = [
        ("data/", b""),
        (f"data/user/0/{PKG}/databases/contacts2.db", b"SQLite format 3\x00"),
        (f"data/data/{PKG}/app_voicemail-data/voicemail123", b"#!AMR\n"),
        ("mnt/sdcard/voicemail/1.amr", b"#!AMR\n1"),
    ]
    source = ZipSource(make_zip(tmp_path / "extraction", members))
    assert ZipSource.probe(tmp_path / "extraction")
    entries, problems, content = read_all(source)
    assert problems == []
    assert {e.path: e.origin for e in entries} == {
        "data": None,
        f"data/data/{PKG}/databases/contacts2.db": f"data/user/0/{PKG}/databases/contacts2.db",
        f"data/data/{PKG}/app_voicemail-data/voicemail123": None,
        "sdcard/voicemail/1.amr": "mnt/sdcard/voicemail/1.amr",
    }
    assert content["sdcard/voicemail/1.amr"] == b"#!AMR\n1"
    assert source.describe() == {"format": "zip", "layout": "android", "members": 4}
    assert source.kind == "fs-extraction"
    entry = entries[1]
    assert entry.mode == 0o640
    assert entry.times["mtime"] == 1577934246.0  # DOS 2020-01-02 03:04:06 read as UTC
    assert entry.meta["mtime_zone"].startswith("unknown")


def test_extended_timestamp_wins(tmp_path):
    info = zipfile.ZipInfo("a.txt", (2020, 1, 1, 0, 0, 0))
    info.extra = struct.pack("<HHBi", 0x5455, 5, 1, 1_700_000_123)
    info.comment = b""
    source = ZipSource(make_zip(tmp_path / "t.zip", [info]))
    entries, _, _ = read_all(source)
    assert entries[0].times == {"mtime": 1_700_000_123.0}
    assert source.kind == "folder"


def test_probe_is_by_content(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"not a zip at all")
    assert not ZipSource.probe(tmp_path / "x.zip")
    assert not ZipSource.probe(tmp_path)
    (tmp_path / "broken").write_bytes(b"PK\x03\x04" + bytes(100))
    assert ZipSource.probe(tmp_path / "broken")
    with pytest.raises(NotRecognised):
        ZipSource(tmp_path / "broken").open()


def test_hostile_names_duplicates_and_symlinks(tmp_path):
    link = zipfile.ZipInfo("escape")
    link.create_system = 3
    link.external_attr = 0o120777 << 16
    link.comment = b"../../../etc/shadow"
    members = [
        ("/abs/olute.txt", b"abs"),
        ("../up.txt", b"up"),
        ("dup", b"1"),
        ("dup", b"2"),
        link,
        ("C:\\Windows\\evil.txt", b"win"),
    ]
    with pytest.warns(UserWarning, match="Duplicate name"):
        zpath = make_zip(tmp_path / "h.zip", members)
    entries, problems, content = read_all(ZipSource(zpath))
    assert content["abs/olute.txt"] == b"abs"
    assert content["%2E%2E/up.txt"] == b"up"
    assert content["dup"] == b"1" and content["dup~2"] == b"2"
    by_path = {e.path: e for e in entries}
    assert by_path["escape"].kind is EntryKind.SYMLINK
    assert by_path["escape"].link_target == "../../../etc/shadow"
    assert by_path["escape"].opener is None
    assert content["C:/Windows/evil.txt"] == b"win"
    messages = {p.path: p.message for p in problems}
    assert "absolute path" in messages["abs/olute.txt"]
    assert "'..' component" in messages["%2E%2E/up.txt"]
    assert "duplicate" in messages["dup~2"]
    assert all(p.offset is not None for p in problems)


def encrypted_zip(path: Path) -> Path:
    """A zip whose second member has the 'encrypted' flag (ZipCrypto header + bytes)."""
    make_zip(path, [("plain.txt", b"plain"), ("secret.txt", b"x" * 40)], zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("secret.txt")
    struct.pack_into("<H", data, info.header_offset + 6, 1)  # local header flag bits
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 8, 1)  # central directory flag bits
    path.write_bytes(bytes(data))
    return path


def test_encrypted_member_is_listed_not_read(tmp_path):
    entries, problems, content = read_all(ZipSource(encrypted_zip(tmp_path / "e.zip")))
    assert content == {"plain.txt": b"plain"}
    secret = next(e for e in entries if e.path == "secret.txt")
    assert secret.kind is EntryKind.OTHER and secret.meta["encrypted"] is True
    assert len(problems) == 1 and problems[0].stage == "decrypt"


def test_zip_bomb_member_is_capped(tmp_path):
    bomb = make_zip(
        tmp_path / "bomb.zip",
        [("ok.txt", b"fine"), ("zeros", bytes(48 << 20)), ("after.txt", b"after")],
    )
    assert bomb.stat().st_size < 1 << 20
    _entries, problems, content = read_all(ZipSource(bomb))
    assert content["ok.txt"] == b"fine" and content["after.txt"] == b"after"
    assert len(content["zeros"]) == 16 << 20  # stopped at the cap, not 48 MiB
    zeros = [p for p in problems if p.path == "zeros"]
    assert len(zeros) == 2  # the listing's warning and the reader's stop
    assert "zip bomb suspected" in zeros[0].message and "zip bomb suspected" in zeros[1].message
    assert all(p.offset is not None for p in zeros)


class SmallAllowance(ZipSource):
    TOTAL_FREE = 100_000
    TOTAL_RATIO = 2


def test_total_expansion_allowance(tmp_path):
    members = [(f"f{i}", bytes(60_000)) for i in range(4)]
    _entries, problems, content = read_all(SmallAllowance(make_zip(tmp_path / "t.zip", members)))
    assert content["f0"] == bytes(60_000)
    assert len(content["f1"]) == 40_000
    assert content["f2"] == b"" and content["f3"] == b""
    assert {p.path for p in problems} == {"f1", "f2", "f3"}


def test_overlapping_members_bomb(tmp_path):
    """Two central-directory entries pointing at the same local data (Fifield-style)."""
    path = make_zip(tmp_path / "o.zip", [("a", random.Random(1).randbytes(5000))])
    data = path.read_bytes()
    central = data.rfind(b"PK\x01\x02")
    eocd = data.rfind(b"PK\x05\x06")
    entry = bytearray(data[central:eocd])
    second = bytearray(entry)
    second[46:47] = b"b"  # same data, other name
    tail = bytearray(data[eocd:])
    struct.pack_into("<HHII", tail, 8, 2, 2, len(entry) * 2, central)
    path.write_bytes(data[:central] + bytes(entry) + bytes(second) + bytes(tail))
    _entries, problems, content = read_all(ZipSource(path))
    assert len(content["a"]) == 5000
    assert content["b"] == b""
    assert any("overlaps" in p.message for p in problems if p.path == "b")


def test_corrupt_member_data(tmp_path):
    payload = random.Random(2).randbytes(200_000)
    path = make_zip(tmp_path / "c.zip", [("good", b"good"), ("bad", payload)])
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("bad")
    start = info.header_offset + 30 + len("bad") + 1000
    data[start : start + 500] = bytes(500)
    path.write_bytes(bytes(data))
    _entries, problems, content = read_all(ZipSource(path))
    assert content["good"] == b"good"
    assert any(p.path == "bad" and "corrupt" in p.message for p in problems)


def test_android_tree_inside_one_wrapping_folder(tmp_path):
    members = [
        ("Galaxy S10/", b""),
        (f"Galaxy S10/data/user/0/{PKG}/databases/a.db", b"db"),
        ("Galaxy S10/storage/emulated/0/Music/v.amr", b"amr"),
    ]
    source = ZipSource(make_zip(tmp_path / "w.zip", members))
    entries, problems, content = read_all(source)
    assert problems == []
    assert content == {f"data/data/{PKG}/databases/a.db": b"db", "sdcard/Music/v.amr": b"amr"}
    assert [e.path for e in entries if e.kind is EntryKind.DIR] == []
    assert source.describe()["android_root"] == "Galaxy S10/"


@pytest.mark.parametrize("descriptor", [False, True], ids=["sizes", "data-descriptor"])
def test_truncated_zip_is_recovered_from_local_headers(tmp_path, descriptor):
    payload = random.Random(3).randbytes(50_000)
    members = [
        (f"data/data/{PKG}/databases/contacts2.db", b"SQLite format 3\x00" * 100),
        ("stored.txt", b"stored bytes"),
        ("big", payload),
        ("last", b"never reached"),
    ]
    path = tmp_path / "t.zip"
    if descriptor:  # written to a non-seekable stream: sizes follow the data

        class Unseekable:
            def __init__(self):
                self.data = bytearray()

            def write(self, b):
                self.data += b
                return len(b)

            def flush(self):
                pass

        sink = Unseekable()
        with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members:
                with zf.open(name, "w") as f:
                    f.write(data)
        whole = bytes(sink.data)
    else:
        whole = make_zip(path, members).read_bytes()
    with zipfile.ZipFile(io.BytesIO(whole)) as zf:
        big_at = zf.getinfo("big").header_offset
    path.write_bytes(whole[: big_at + 20_000])  # cut inside "big": no central directory
    source = ZipSource(path)
    assert source.probe(path)
    _entries, problems, content = read_all(source)
    assert content[f"data/data/{PKG}/databases/contacts2.db"] == b"SQLite format 3\x00" * 100
    assert content["stored.txt"] == b"stored bytes"
    assert payload.startswith(content["big"]) and len(content["big"]) < len(payload)
    assert "last" not in content
    assert source.describe()["recovered_from"].startswith("local headers")
    assert source.describe()["layout"] == "android"
    assert "central directory missing" in problems[0].message
    assert any(p.path == "big" and p.stage == "read" for p in problems)


def test_recovered_member_with_bad_crc(tmp_path):
    whole = bytearray(
        make_zip(tmp_path / "w.zip", [("a", b"A" * 1000)], zipfile.ZIP_STORED).read_bytes()
    )
    whole[40:42] = b"BB"  # inside the stored data
    central = whole.rfind(b"PK\x01\x02")
    (tmp_path / "c.zip").write_bytes(bytes(whole[:central]))
    _entries, problems, content = read_all(ZipSource(tmp_path / "c.zip"))
    assert len(content["a"]) == 1000
    assert any("CRC mismatch" in p.message for p in problems)
