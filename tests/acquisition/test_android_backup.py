"""The ``.ab`` source: every version, compression, encryption and checksum variant, the
token → on-device path mapping, the real mvt backups, and hostile files."""

from __future__ import annotations

import hashlib
import io
import random
import zlib
from pathlib import Path

import pytest
from android_backup_writer import tar_bytes, write_ab

from acquisition.android_backup import (
    AndroidBackupSource,
    decrypted_tar_stream,
    java_utf8,
)
from acquisition.base import Entry, EntryKind, Problem
from acquisition.errors import EntryReadError, NotRecognised, PasswordRequired, WrongPassword

PKG = "com.android.providers.telephony"
MEMBERS = [
    (f"apps/{PKG}/_manifest", b"1\n" + PKG.encode() + b"\n29\n29\n\n0\n0\n"),
    (f"apps/{PKG}/db/calllog.db", b"SQLite format 3\x00" + bytes(200)),
    (f"apps/{PKG}/d_f/000000_sms_backup", b"sms" * 50),
    ("shared/0/Music/vm.amr", b"#!AMR\n" + bytes(32)),
]
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "android-backup-mvt"


def listing(source: AndroidBackupSource) -> tuple[list[Entry], list[Problem], dict[str, bytes]]:
    entries, problems, content = [], [], {}
    with source:
        for item in source.entries():
            if isinstance(item, Problem):
                problems.append(item)
                continue
            entries.append(item)
            if item.kind is EntryKind.FILE:
                try:
                    content[item.path] = item.open().read()
                except EntryReadError as exc:
                    content[item.path] = b"<EntryReadError>"
                    problems.append(Problem(item.path, "read", str(exc), exc.offset))
    return entries, problems, content


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("password", [None, "s3cret"])
def test_every_version_compression_and_encryption(tmp_path, version, compressed, password):
    ab = write_ab(
        tmp_path / "b.ab",
        tar_bytes(MEMBERS),
        version=version,
        compressed=compressed,
        password=password,
    )
    assert AndroidBackupSource.probe(ab)
    source = AndroidBackupSource(ab, password=password)
    entries, problems, content = listing(source)
    assert problems == []
    assert content == {
        f"apps/{PKG}/_manifest": MEMBERS[0][1],
        f"data/data/{PKG}/databases/calllog.db": MEMBERS[1][1],
        f"data/user_de/0/{PKG}/files/000000_sms_backup": MEMBERS[2][1],
        "sdcard/Music/vm.amr": MEMBERS[3][1],
    }
    origins = {e.path: e.origin for e in entries}
    assert origins[f"data/data/{PKG}/databases/calllog.db"] == f"apps/{PKG}/db/calllog.db"
    assert origins[f"apps/{PKG}/_manifest"] is None
    assert all(e.times == {"mtime": 1_700_000_000.0} for e in entries)
    facts = source.describe()
    assert facts["format_version"] == version
    assert facts["compressed"] is compressed
    assert facts["encrypted"] is (password is not None)
    if password:
        assert facts["pbkdf2_rounds"] == 20
        assert facts["key_checksum_variant"] == ("8bit" if version == 1 else "utf8")
    assert AndroidBackupSource.sequential


def test_token_mapping_covers_every_token(tmp_path):
    names = {
        "apps/p.q/f/a": "data/data/p.q/files/a",
        "apps/p.q/db/a.db": "data/data/p.q/databases/a.db",
        "apps/p.q/sp/p.xml": "data/data/p.q/shared_prefs/p.xml",
        "apps/p.q/r/app_voicemail-data/voicemail1": "data/data/p.q/app_voicemail-data/voicemail1",
        "apps/p.q/c/x": "data/data/p.q/cache/x",
        "apps/p.q/nb/x": "data/data/p.q/no_backup/x",
        "apps/p.q/ef/vm/a.amr": "sdcard/Android/data/p.q/vm/a.amr",
        "apps/p.q/obb/main.obb": "sdcard/Android/obb/p.q/main.obb",
        "apps/p.q/a/base.apk": "data/app/p.q/base.apk",
        "apps/p.q/d_f/x": "data/user_de/0/p.q/files/x",
        "apps/p.q/d_db/x.db": "data/user_de/0/p.q/databases/x.db",
        "apps/p.q/d_sp/x.xml": "data/user_de/0/p.q/shared_prefs/x.xml",
        "apps/p.q/d_r/x": "data/user_de/0/p.q/x",
        "apps/p.q/d_nb/x": "data/user_de/0/p.q/no_backup/x",
        "apps/p.q/d_c/x": "data/user_de/0/p.q/cache/x",
        "apps/p.q/k/a2V5": "apps/p.q/k/a2V5",
        "apps/p.q/_meta": "apps/p.q/_meta",
        "shared/0/DCIM/a.jpg": "sdcard/DCIM/a.jpg",
        "shared/10/DCIM/a.jpg": "storage/emulated/10/DCIM/a.jpg",
    }
    ab = write_ab(tmp_path / "t.ab", tar_bytes((n, n.encode()) for n in names))
    entries, problems, content = listing(AndroidBackupSource(ab))
    assert problems == []
    assert content == {path: name.encode() for name, path in names.items()}
    for entry in entries:
        expected_origin = next(n for n, p in names.items() if p == entry.path)
        assert entry.origin == (None if expected_origin == entry.path else expected_origin)


@pytest.mark.parametrize(("version", "checksum"), [(5, "8bit"), (1, "utf8"), (2, "8bit")])
def test_other_checksum_variant_is_tried(tmp_path, version, checksum):
    ab = write_ab(
        tmp_path / "b.ab",
        tar_bytes(MEMBERS[:1]),
        version=version,
        password="pässwörd€",
        checksum=checksum,
    )
    source = AndroidBackupSource(ab, password="pässwörd€")
    _, problems, content = listing(source)
    assert problems == []
    assert content[f"apps/{PKG}/_manifest"] == MEMBERS[0][1]
    assert source.describe()["key_checksum_variant"] == checksum


def test_java_utf8_conversion():
    assert java_utf8(b"\x00\x7f") == b"\x00\x7f"
    assert java_utf8(b"\x80") == b"\xef\xbe\x80"
    assert java_utf8(b"\xff") == b"\xef\xbf\xbf"
    assert java_utf8(b"\xc0") == b"\xef\xbf\x80"


def test_wrong_password_and_missing_password(tmp_path):
    ab = write_ab(tmp_path / "b.ab", tar_bytes(MEMBERS), password="right")
    with pytest.raises(WrongPassword, match=f"wrong password for {ab}"):
        AndroidBackupSource(ab, password="wrong").open()
    with pytest.raises(PasswordRequired):
        AndroidBackupSource(ab).open()
    with pytest.raises(WrongPassword), open(ab, "rb") as f:
        decrypted_tar_stream(f, "wrong")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"ANDROID BACKUP\n9\n1\nnone\n", "unsupported Android backup version"),
        (b"ANDROID BACKUP\n5\n2\nnone\n", "bad compression flag"),
        (b"ANDROID BACKUP\n5\n1\nROT13\n", "unknown Android backup encryption"),
        (
            b"ANDROID BACKUP\n5\n0\nAES-256\n"
            + b"AA" * 64
            + b"\n"
            + b"AA" * 64
            + b"\n"
            + b"999999999999\n",
            "implausible PBKDF2 round count",
        ),
        (b"ANDROID BACKUP\n5", "header ends"),
        (b"ANDROID BACKUP\n" + b"5" * 10000, "too long"),
    ],
)
def test_malformed_headers_are_not_recognised(tmp_path, header, message):
    ab = tmp_path / "bad.ab"
    ab.write_bytes(header)
    with pytest.raises(NotRecognised, match=message):
        AndroidBackupSource(ab, password="x").open()


def test_probe_is_by_content(tmp_path):
    (tmp_path / "a.ab").write_bytes(b"not a backup")
    (tmp_path / "noext").write_bytes(b"ANDROID BACKUP\n5\n1\nnone\n")
    assert not AndroidBackupSource.probe(tmp_path / "a.ab")
    assert AndroidBackupSource.probe(tmp_path / "noext")
    assert not AndroidBackupSource.probe(tmp_path / "missing")


BIG = random.Random(0).randbytes(100_000)  # incompressible: spans many chunks when deflated


@pytest.mark.parametrize(
    ("compressed", "password"), [(False, None), (True, None), (False, "pw"), (True, "pw")]
)
def test_truncated_backup_keeps_members_before_the_cut(tmp_path, compressed, password):
    members = [
        ("apps/p.q/f/first", b"first" * 100),
        ("apps/p.q/f/second", BIG),
        ("apps/p.q/f/third", b"third"),
    ]
    whole = write_ab(
        tmp_path / "w.ab", tar_bytes(members), compressed=compressed, password=password
    )
    data = whole.read_bytes()
    cut = tmp_path / "cut.ab"
    cut.write_bytes(data[: len(data) * 2 // 3])
    _entries, problems, content = listing(AndroidBackupSource(cut, password=password))
    assert content["data/data/p.q/files/first"] == b"first" * 100
    assert "data/data/p.q/files/third" not in content
    # The member that straddles the cut yields its prefix, then says where it stops.
    assert content["data/data/p.q/files/second"] == b"<EntryReadError>"
    assert len(problems) == 1
    problem = problems[0]
    assert problem.path == "data/data/p.q/files/second"
    assert problem.offset is not None and 0 < problem.offset <= len(data) * 2 // 3


def test_truncated_member_not_read_is_reported_by_the_source(tmp_path):
    members = [("apps/p.q/f/first", b"x"), ("apps/p.q/f/second", BIG)]
    whole = write_ab(tmp_path / "w.ab", tar_bytes(members), compressed=True, password="pw")
    cut = tmp_path / "cut.ab"
    cut.write_bytes(whole.read_bytes()[:-3000])
    with AndroidBackupSource(cut, password="pw") as source:
        items = list(source.entries())  # nobody reads the members
    problems = [i for i in items if isinstance(i, Problem)]
    assert [e.path for e in items if isinstance(e, Entry)] == [
        "data/data/p.q/files/first",
        "data/data/p.q/files/second",
    ]
    assert len(problems) == 1
    assert problems[0].path == "data/data/p.q/files/second"
    assert problems[0].stage == "decrypt"
    assert "truncated" in problems[0].message and str(cut) in problems[0].message


def test_truncated_prefix_bytes_are_exact(tmp_path):
    members = [("apps/p.q/f/a", b"a" * 10), ("apps/p.q/f/big", BIG)]
    tar = tar_bytes(members)
    ab = write_ab(tmp_path / "w.ab", tar, compressed=False)
    header_len = len(b"ANDROID BACKUP\n5\n0\nnone\n")
    cut_at = header_len + 1536 + 5000  # 5000 bytes into "big"'s data
    (tmp_path / "cut.ab").write_bytes(ab.read_bytes()[:cut_at])
    with AndroidBackupSource(tmp_path / "cut.ab") as source:
        for item in source.entries():
            if isinstance(item, Entry) and item.path.endswith("big"):
                stream = item.open()
                got = b""
                with pytest.raises(EntryReadError) as caught:
                    while chunk := stream.read(1000):
                        got += chunk
                assert got == BIG[:5000]
                assert caught.value.offset == 1536 + 5000


def test_corrupt_zlib_stream(tmp_path):
    members = [("apps/p.q/f/a", b"a" * 100)] + [(f"apps/p.q/f/n{i}", BIG) for i in range(4)]
    ab = write_ab(tmp_path / "w.ab", tar_bytes(members), compressed=True)
    data = bytearray(ab.read_bytes())
    header_len = len(b"ANDROID BACKUP\n5\n1\nnone\n")
    middle = header_len + (len(data) - header_len) // 2
    data[middle : middle + 64] = bytes(64)  # wipe part of the deflate stream
    (tmp_path / "bad.ab").write_bytes(bytes(data))
    _entries, problems, content = listing(AndroidBackupSource(tmp_path / "bad.ab"))
    assert content["data/data/p.q/files/a"] == b"a" * 100
    assert problems, "corruption must be reported"
    assert any(w in p.message for p in problems for w in ("zlib", "truncated", "corrupt"))
    assert all(p.offset is not None for p in problems)


def test_not_a_tar_inside(tmp_path):
    ab = write_ab(tmp_path / "w.ab", b"this is not a tar archive at all" * 40)
    with AndroidBackupSource(ab) as source:
        items = list(source.entries())
    assert len(items) == 1 and isinstance(items[0], Problem)


def test_corrupt_ciphertext_reports_not_traceback(tmp_path):
    ab = write_ab(tmp_path / "w.ab", tar_bytes(MEMBERS), compressed=True, password="pw")
    data = bytearray(ab.read_bytes())
    data[-40:-20] = bytes(20)
    (tmp_path / "bad.ab").write_bytes(bytes(data))
    _entries, problems, _ = listing(AndroidBackupSource(tmp_path / "bad.ab", password="pw"))
    assert problems and all(p.offset is not None for p in problems)


def test_decrypted_tar_stream_matches_writer_payload(tmp_path):
    tar = tar_bytes(MEMBERS)
    for compressed in (False, True):
        ab = write_ab(tmp_path / "b.ab", tar, compressed=compressed, password="pw")
        with open(ab, "rb") as f:
            assert decrypted_tar_stream(f, "pw").read() == tar
    with open(ab, "rb") as f, pytest.raises(PasswordRequired):
        decrypted_tar_stream(f, None)


def test_decrypted_tar_stream_raises_at_the_cut(tmp_path):
    tar = tar_bytes(MEMBERS)
    ab = write_ab(tmp_path / "b.ab", tar, compressed=True)
    stream = decrypted_tar_stream(io.BytesIO(ab.read_bytes()[:-10]), None)
    with pytest.raises(EntryReadError):
        stream.read()
    assert zlib.decompress  # the payload writer really compressed it
    assert len(ab.read_bytes()) < len(tar)


CORPUS_FILES = {
    "backup.ab": (
        None,
        "ce1ac5009fea5187a9f546b51e1446ba450243ae91d31dc779233ec0937b5d18",
        {
            "apps",
            f"apps/{PKG}",
            f"apps/{PKG}/d_f",
            f"apps/{PKG}/d_f/000001_mms_backup",
            f"apps/{PKG}/d_f/000000_sms_backup",
        },
    ),
    "backup3.ab": (
        None,
        "33e73df2ede9798dcb3a85c06200ee41c8f52dd2f2e50ffafcceb0407bc13e3a",
        {f"apps/{PKG}/_manifest", f"apps/{PKG}/d_f/000000_sms_backup"},
    ),
    "backup2.ab": (
        "123456",
        "f365ace1effbc4902c6aeba241ca61544f8a96ad456c1861808ea87b7dd03896",
        {f"apps/{PKG}/_manifest", f"apps/{PKG}/d_f/000000_sms_backup"},
    ),
}
SMS_SHA256 = "67f17b86ff5787169b799cd50283b65ffc06f8b6b0b1fc1b55e210a6e9dd247d"


@pytest.mark.parametrize("name", sorted(CORPUS_FILES))
def test_real_mvt_backups(name):
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"corpus file {path} absent (../shared not mounted)")
    password, tar_sha256, member_names = CORPUS_FILES[name]
    with open(path, "rb") as f:
        assert hashlib.sha256(decrypted_tar_stream(f, password).read()).hexdigest() == tar_sha256
    entries, problems, content = listing(AndroidBackupSource(path, password=password))
    assert problems == []
    assert {e.origin or e.path for e in entries} == member_names
    sms = content[f"data/user_de/0/{PKG}/files/000000_sms_backup"]
    assert hashlib.sha256(sms).hexdigest() == SMS_SHA256
    if password:
        with pytest.raises(WrongPassword):
            AndroidBackupSource(path, password="654321").open()


@pytest.mark.parametrize("compressed", [False, True])
def test_header_only_backup_is_one_problem(tmp_path, compressed):
    ab = tmp_path / "empty.ab"
    ab.write_bytes(b"ANDROID BACKUP\n5\n%d\nnone\n" % compressed)
    with AndroidBackupSource(ab) as source:
        items = list(source.entries())
    assert len(items) == 1 and isinstance(items[0], Problem)
    assert str(ab) in items[0].message


def test_unpacked_backup_folder_gets_the_same_paths(tmp_path):
    """A folder left by a tool that unpacked an .ab names things like the .ab source does."""
    from acquisition.folder import FolderSource

    unpacked = CORPUS / "apps"
    if not unpacked.is_dir():
        pytest.skip(f"corpus folder {unpacked} absent (../shared not mounted)")
    with FolderSource(CORPUS) as folder:
        folder_paths = {e.path for e in folder.entries() if isinstance(e, Entry)}
        assert folder.describe()["layout"] == "android"
    _, _, content = listing(AndroidBackupSource(CORPUS / "backup.ab"))
    assert set(content) <= folder_paths
