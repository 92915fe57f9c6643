"""Tar sources: compression by content, Android layout naming, and hostile members."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random
import tarfile
from pathlib import Path

import pytest
from source_reading import read_all

from acquisition.base import EntryKind
from acquisition.errors import NotRecognised
from acquisition.tarball import TarSource

PKG = "com.google.android.dialer"
ANDROID = [
    (f"data/user/0/{PKG}/databases/dialer.db", b"SQLite format 3\x00dialer"),
    (f"data/user_de/0/{PKG}/files/x", b"de"),
    ("data/data/com.android.providers.contacts/databases/calllog.db", b"calllog"),
    ("storage/emulated/0/Music/vm.amr", b"#!AMR\n"),
    ("data/media/0/Download/vm2.amr", b"#!AMR\nx"),
    ("data/system/packages.xml", b"<packages/>"),
]
EXPECTED = {
    f"data/data/{PKG}/databases/dialer.db": f"data/user/0/{PKG}/databases/dialer.db",
    f"data/user_de/0/{PKG}/files/x": None,
    "data/data/com.android.providers.contacts/databases/calllog.db": None,
    "sdcard/Music/vm.amr": "storage/emulated/0/Music/vm.amr",
    "sdcard/Download/vm2.amr": "data/media/0/Download/vm2.amr",
    "data/system/packages.xml": None,
}


def make_tar(path: Path, members, *, compression: str = "", fmt=tarfile.PAX_FORMAT) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for item in members:
            if isinstance(item, tarfile.TarInfo):
                tar.addfile(item)
                continue
            name, data = item
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_600_000_000, 0o640
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    packers = {"": bytes, "gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}
    path.write_bytes(packers[compression](raw))
    return path


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mtime = kind, linkname, 1_600_000_000
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3
    return info


@pytest.mark.parametrize("compression", ["", "gz", "bz2", "xz"])
def test_android_extraction_is_recognised_and_normalised(tmp_path, compression):
    tar = make_tar(tmp_path / "dump.bin", ANDROID, compression=compression)
    assert TarSource.probe(tar)
    source = TarSource(tar)
    entries, problems, content = read_all(source)
    assert problems == []
    assert {e.path: e.origin for e in entries} == EXPECTED
    assert content["sdcard/Music/vm.amr"] == b"#!AMR\n"
    assert content[f"data/data/{PKG}/databases/dialer.db"] == ANDROID[0][1]
    assert source.describe()["layout"] == "android"
    assert source.describe()["compression"] == {"": "none", "gz": "gzip"}.get(
        compression, {"bz2": "bzip2", "xz": "xz"}.get(compression)
    )
    assert source.kind == "fs-extraction"
    assert TarSource.sequential
    entry = entries[0]
    assert entry.times == {"mtime": 1_600_000_000.0} and entry.mode == 0o640


def test_generic_tar_keeps_paths(tmp_path):
    members = [
        ("spool/voicemail/default/1234/INBOX/msg0000.txt", b"[message]"),
        ("storage/emulated/0/x", b"not android without a marker? it is one"),
    ]
    tar = make_tar(tmp_path / "a.tar", members[:1])
    source = TarSource(tar)
    entries, problems, _ = read_all(source)
    assert [e.path for e in entries] == ["spool/voicemail/default/1234/INBOX/msg0000.txt"]
    assert entries[0].origin is None and problems == []
    assert source.describe()["layout"] == "generic" and source.kind == "folder"


def test_ios_file_system_is_a_device_extraction(tmp_path):
    tar = make_tar(tmp_path / "ios.tar", [("private/var/mobile/Library/Voicemail/1.amr", b"x")])
    source = TarSource(tar)
    read_all(source)
    assert source.describe()["layout"] == "device" and source.kind == "fs-extraction"


def test_probe_is_by_content(tmp_path):
    (tmp_path / "fake.tar").write_bytes(b"hello" * 200)
    (tmp_path / "text.gz").write_bytes(gzip.compress(b"just text, not a tar" * 100))
    assert not TarSource.probe(tmp_path / "fake.tar")
    assert not TarSource.probe(tmp_path / "text.gz")
    assert not TarSource.probe(tmp_path)
    with pytest.raises(NotRecognised):
        TarSource(tmp_path / "fake.tar").open()
    v7 = make_tar(tmp_path / "v7", [("a", b"b")], fmt=tarfile.GNU_FORMAT)
    assert TarSource.probe(v7)


def test_hostile_members(tmp_path):
    members = [
        ("../../etc/cron.d/evil", b"evil"),
        ("/etc/passwd", b"root:x:0:0"),
        special("link-out", tarfile.SYMTYPE, "../../../../etc/shadow"),
        special("link-abs", tarfile.SYMTYPE, "/data/app/lib"),
        special("hard", tarfile.LNKTYPE, "/etc/passwd"),
        special("dev/null", tarfile.CHRTYPE),
        special("dev/sda", tarfile.BLKTYPE),
        special("pipe", tarfile.FIFOTYPE),
        ("dup.txt", b"first"),
        ("dup.txt", b"second"),
        ("./dup.txt", b"third"),
        ("after", b"still read"),
    ]
    tar = make_tar(tmp_path / "hostile.tar", members)
    entries, problems, content = read_all(TarSource(tar))
    by_path = {e.path: e for e in entries}
    assert content["%2E%2E/%2E%2E/etc/cron.d/evil"] == b"evil"
    assert by_path["%2E%2E/%2E%2E/etc/cron.d/evil"].origin == "../../etc/cron.d/evil"
    assert content["etc/passwd"] == b"root:x:0:0"
    assert by_path["etc/passwd"].origin == "/etc/passwd"
    assert by_path["link-out"].kind is EntryKind.SYMLINK
    assert by_path["link-out"].link_target == "../../../../etc/shadow"
    assert by_path["link-out"].opener is None
    assert by_path["link-abs"].kind is EntryKind.SYMLINK
    assert by_path["hard"].kind is EntryKind.OTHER and by_path["hard"].link_target == "etc/passwd"
    for name in ("hard", "dev/null", "dev/sda", "pipe"):
        assert by_path[name].kind is EntryKind.OTHER and by_path[name].opener is None
    assert by_path["dev/null"].meta["device"] == [1, 3]
    assert content["dup.txt"] == b"first"
    assert content["dup.txt~2"] == b"second"
    assert content["dup.txt~3"] == b"third"
    assert content["after"] == b"still read"
    messages = {p.path: p.message for p in problems}
    assert "'..' component" in messages["%2E%2E/%2E%2E/etc/cron.d/evil"]
    assert "absolute path" in messages["etc/passwd"]
    assert "points outside" in messages["link-out"]
    assert "link-abs" not in messages  # absolute links inside a device tree are normal
    assert "hard link" in messages["hard"]
    assert "character device" in messages["dev/null"]
    assert "block device" in messages["dev/sda"]
    assert "fifo" in messages["pipe"]
    assert "duplicate" in messages["dup.txt~2"] and "duplicate" in messages["dup.txt~3"]
    assert all(p.offset is not None for p in problems)
    assert len(problems) == 9


def test_android_spelling_collision_is_a_duplicate(tmp_path):
    members = [
        (f"data/data/{PKG}/databases/a.db", b"one"),
        (f"data/user/0/{PKG}/databases/a.db", b"two"),
    ]
    entries, problems, content = read_all(TarSource(make_tar(tmp_path / "c.tar", members)))
    assert content == {
        f"data/data/{PKG}/databases/a.db": b"one",
        f"data/data/{PKG}/databases/a.db~2": b"two",
    }
    assert entries[1].origin == f"data/user/0/{PKG}/databases/a.db"
    assert len(problems) == 1 and "duplicate" in problems[0].message


def test_entry_is_only_readable_until_the_next_one(tmp_path):
    tar = make_tar(tmp_path / "s.tar", [("a", b"aaa"), ("b", b"bbb")])
    with TarSource(tar) as source:
        items = list(source.entries())
    with pytest.raises(OSError, match="moved past"):
        items[0].open()


PAYLOAD = random.Random(5).randbytes(300_000)


@pytest.mark.parametrize("compression", ["", "gz", "xz"])
def test_truncated_tar(tmp_path, compression):
    members = [("first", b"1" * 1000), ("second", PAYLOAD), ("third", b"3")]
    whole = make_tar(tmp_path / "w", members, compression=compression).read_bytes()
    cut = tmp_path / "cut"
    cut.write_bytes(whole[: len(whole) // 2])
    _entries, problems, content = read_all(TarSource(cut))
    assert content["first"] == b"1" * 1000
    assert "third" not in content
    assert len(problems) == 1
    assert problems[0].path == "second" and problems[0].offset is not None
    assert "truncated" in problems[0].message or "ends" in problems[0].message


def test_tar_cut_between_members(tmp_path):
    members = [("a", b"x" * 512), ("b", b"y" * 512)]
    whole = make_tar(tmp_path / "w", members, fmt=tarfile.USTAR_FORMAT).read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(whole[: 1024 + 100])  # header and data of "a", then 100 bytes of a header
    _entries, problems, content = read_all(TarSource(cut))
    assert content == {"a": b"x" * 512}
    assert len(problems) == 1 and problems[0].path == "" and problems[0].offset is not None


def test_truncated_bzip2_single_block_is_not_recognised(tmp_path):
    """bzip2 decodes whole 900 kB blocks: a cut first block yields nothing to recognise."""
    whole = make_tar(tmp_path / "w", [("a", PAYLOAD)], compression="bz2").read_bytes()
    (tmp_path / "cut").write_bytes(whole[: len(whole) // 2])
    assert not TarSource.probe(tmp_path / "cut")


def test_corrupt_gzip(tmp_path):
    members = [("first", b"1" * 1000)] + [(f"n{i}", PAYLOAD) for i in range(3)]
    data = bytearray(make_tar(tmp_path / "w", members, compression="gz").read_bytes())
    mid = len(data) // 2
    data[mid : mid + 200] = bytes(200)
    (tmp_path / "bad.tgz").write_bytes(bytes(data))
    _entries, problems, content = read_all(TarSource(tmp_path / "bad.tgz"))
    assert content["first"] == b"1" * 1000
    assert problems and all(p.offset is not None for p in problems)


def test_oversized_extension_header_is_refused(tmp_path):
    info = tarfile.TarInfo("././@LongLink")
    info.type = tarfile.GNUTYPE_LONGNAME
    info.size = 2 << 30  # claims a 2 GiB name
    header = info.tobuf(format=tarfile.USTAR_FORMAT)
    first = make_tar(tmp_path / "f", [("ok", b"fine")], fmt=tarfile.USTAR_FORMAT).read_bytes()
    first = first[:1024]  # the member, no end marker
    (tmp_path / "bomb.tar").write_bytes(gzip.compress(first + header + bytes(1 << 20)))
    _entries, problems, content = read_all(TarSource(tmp_path / "bomb.tar"))
    assert content == {"ok": b"fine"}
    assert len(problems) == 1 and "exceeds" in problems[0].message


def test_data_hidden_after_the_end_marker_is_reported(tmp_path):
    tar = make_tar(tmp_path / "t.tar", [("a", b"x")]).read_bytes()
    (tmp_path / "hidden.tar").write_bytes(tar + b"SECRET" * 100)
    _entries, problems, content = read_all(TarSource(tmp_path / "hidden.tar"))
    assert content == {"a": b"x"}
    assert len(problems) == 1
    assert problems[0].offset == len(tar) and "600 bytes" in problems[0].message


@pytest.mark.parametrize("compression", ["", "gz"])
def test_android_tree_inside_one_wrapping_folder(tmp_path, compression):
    members = [(f"./extraction/{name}", data) for name, data in ANDROID]
    source = TarSource(make_tar(tmp_path / "w", members, compression=compression))
    entries, problems, _ = read_all(source)
    assert problems == []
    assert {e.path for e in entries} == set(EXPECTED)
    assert source.describe()["android_root"] == "extraction/"


def test_members_after_a_corrupt_header_are_recovered(tmp_path):
    members = [("a", b"1" * 600), ("b", b"2" * 100), ("c", b"3" * 700)]
    data = bytearray(make_tar(tmp_path / "w", members, fmt=tarfile.USTAR_FORMAT).read_bytes())
    b_header = 512 + 1024  # a's header and two data blocks
    data[b_header : b_header + 100] = b"\xff" * 100
    (tmp_path / "bad.tar").write_bytes(bytes(data))
    _entries, problems, content = read_all(TarSource(tmp_path / "bad.tar"))
    assert content == {"a": b"1" * 600, "c": b"3" * 700}
    assert len(problems) == 1
    assert problems[0].offset == b_header
    assert f"next valid header at tar offset {b_header + 1024}" in problems[0].message


def test_detection_goes_by_content_not_name(tmp_path):
    """The archive sources' probes, in the application's probe order, pick by content."""
    from acquisition.android_backup import AndroidBackupSource
    from acquisition.detect import open_source
    from acquisition.folder import FolderSource
    from acquisition.ziparchive import ZipSource

    tar = make_tar(tmp_path / "backup.ab", [("a", b"x")])
    tgz = make_tar(tmp_path / "photo.jpg", [("a", b"x")], compression="gz")
    ab = tmp_path / "archive.tar"
    ab.write_bytes(b"ANDROID BACKUP\n5\n0\nnone\n" + tar.read_bytes())
    zpath = tmp_path / "x.tar.gz"
    import zipfile

    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("a", b"x")
    (tmp_path / "dir.zip").mkdir()
    expected = {
        tar: TarSource,
        tgz: TarSource,
        ab: AndroidBackupSource,
        zpath: ZipSource,
        tmp_path / "dir.zip": FolderSource,
    }
    for path, cls in expected.items():
        assert type(open_source(str(path))) is cls, path
    plain_gz = tmp_path / "notes.tar.gz"
    plain_gz.write_bytes(gzip.compress(b"not a tar at all" * 64))
    assert type(open_source(str(plain_gz))).__name__ == "RawImageSource"


def test_undecodable_member_names_survive(tmp_path):
    info = tarfile.TarInfo("caf\udce9.txt")
    info.size = 4
    buf = io.BytesIO()
    with tarfile.open(
        fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape"
    ) as tar:
        tar.addfile(info, io.BytesIO(b"name"))
    (tmp_path / "latin.tar").write_bytes(buf.getvalue())
    _entries, problems, content = read_all(TarSource(tmp_path / "latin.tar"))
    assert content == {"caf\\xe9.txt": b"name"} and problems == []
