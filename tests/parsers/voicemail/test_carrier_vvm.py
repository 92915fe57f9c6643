import base64
import hashlib

import pytest
from vm_folder_ctx import FolderContext
from vm_images import builder, write_tree

from parsers.records import AudioRecord, ProblemRecord
from parsers.voicemail import carrier_vvm as c

android = builder("android")
audio = builder("audio")
ATT = android.ATT


@pytest.fixture(scope="module")
def a13(tmp_path_factory):
    return write_tree(tmp_path_factory.mktemp("a13"), android.android13_files())


def _parse(root, path):
    ctx = FolderContext(root)
    return list(c.parse(ctx.item(path), ctx))


def test_att_base64_part(a13):
    (rec,) = _parse(a13, f"{ATT}/files/vm_7_part1")
    stored = (a13 / ATT / "files/vm_7_part1").read_bytes()
    decoded = base64.b64decode(stored)
    assert decoded.startswith(b"#!AMR\n")
    assert (rec.protection, rec.method, rec.container, rec.codec) == (
        "encoded", "base64", "amr", "amr-nb"
    )  # fmt: skip
    assert (rec.offset, rec.length) == (0, len(stored))
    assert rec.data == decoded
    assert (rec.size, rec.sha256) == (len(decoded), hashlib.sha256(decoded).hexdigest())
    assert rec.decodes and not rec.truncated
    assert rec.package == "com.att.mobile.android.vvm"
    # The same audio shared to public storage is the decoded file, byte for byte.
    shared = (a13 / "data/media/0/Music/voicemail-shared-20231115_091300.amr").read_bytes()
    assert shared == decoded


def test_att_headerless_follow_on_part(a13):
    (rec,) = _parse(a13, f"{ATT}/files/vm_8_part2")
    stored = (a13 / ATT / "files/vm_8_part2").read_bytes()
    assert not stored.startswith(b"#!AMR")
    assert (rec.container, rec.codec, rec.protection, rec.offset, rec.length) == (
        "raw", "amr-nb", "none", 0, len(stored)
    )  # fmt: skip
    assert rec.sha256 == hashlib.sha256(stored).hexdigest()  # frames as stored, no header
    assert rec.decodes and rec.data is None
    assert rec.extra["headerless"] is True


def test_audio_with_magic_is_left_to_the_carver(a13):
    assert _parse(a13, "data/data/com.samsung.vvm/files/.cache/3f9a1c0e") == []


def test_hostile_files(tmp_path):
    files = tmp_path / "data/data/com.tmobile.vvm.application/files"
    files.mkdir(parents=True)
    (files / "b64_not_audio").write_bytes(base64.encodebytes(b"hello world " * 40))
    (files / "bad_b64").write_bytes(b"QUJD" * 30 + b"=A==")
    (files / "text").write_bytes(b"plain words, not base64! " * 10)
    (files / "empty").write_bytes(b"")
    part = audio.amr_nb(1.0, 5)[6:]
    (files / "junk_then_frames").write_bytes(b"\x00\x01junk-prefix" + part + b"\xff" * 7)
    root = tmp_path
    for name in ("b64_not_audio", "bad_b64", "text", "empty"):
        assert _parse(root, f"data/data/com.tmobile.vvm.application/files/{name}") == [], name
    (rec,) = _parse(root, "data/data/com.tmobile.vvm.application/files/junk_then_frames")
    assert isinstance(rec, AudioRecord)
    assert (rec.offset, rec.length, rec.container) == (
        len(b"\x00\x01junk-prefix"),
        len(part),
        "raw",
    )
    assert rec.package == "com.tmobile.vvm.application"


def test_package_names():
    assert c._package("data/data/com.smithmicro.vvm.omtp.acme/files/x") == (
        "com.smithmicro.vvm.omtp.acme"
    )
    assert c._package("data/data/com.samsung.vvmx/files/x") is None
    assert c._package("sdcard/Android/data/com.vzw.visualvoicemail/cache/y") == (
        "com.vzw.visualvoicemail"
    )


def test_too_large_is_a_problem(tmp_path, monkeypatch):
    monkeypatch.setattr(c, "MAX_SIZE", 10)
    f = tmp_path / "data/data/com.dish.vvm/files/big"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"x" * 11)
    (p,) = _parse(tmp_path, "data/data/com.dish.vvm/files/big")
    assert isinstance(p, ProblemRecord) and "larger than 10" in p.message


def test_base64_of_a_headerless_part(tmp_path):
    part = audio.amr_nb(0.8, 9)[6:]
    f = tmp_path / "data/data/com.att.mobile.android.vvm/files/vm_9_part2"
    f.parent.mkdir(parents=True)
    f.write_bytes(base64.b64encode(part))
    (rec,) = _parse(tmp_path, "data/data/com.att.mobile.android.vvm/files/vm_9_part2")
    assert (rec.container, rec.codec, rec.protection, rec.method) == (
        "raw", "amr-nb", "encoded", "base64"
    )  # fmt: skip
    assert rec.data == part and rec.sha256 == hashlib.sha256(part).hexdigest()
    assert (rec.offset, rec.length, rec.decodes) == (0, f.stat().st_size, True)
