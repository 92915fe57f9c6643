"""The Android and PBX image builders: deterministic, small, real audio, and the parsers
find in the built content exactly what the builders put there."""

from __future__ import annotations

import hashlib
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "parsers" / "voicemail"))
sys.path.insert(0, str(HERE.parents[1] / "testdata" / "images"))

from builders import android, codecs, pbx  # noqa: E402
from vm_folder_ctx import FolderContext  # noqa: E402

from parsers import registry  # noqa: E402
from parsers.audio.carve import identify  # noqa: E402
from parsers.records import AudioRecord, FindingRecord, ProblemRecord, VoicemailRecord  # noqa: E402

ALL = {**android.IMAGES, **pbx.IMAGES}
MY_PARSERS = (
    "android-calllog",
    "google-",
    "vvm-credentials-prefs",
    "carrier-vvm",
    "asterisk",
    "raw-gsm",
)  # google-voice starts with "google"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    one, two = tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("two")
    for name, func in ALL.items():
        func(one / name)
        func(two / name)
    return one, two


def test_deterministic_and_small(built):
    one, two = built
    names = sorted(p.name for p in one.iterdir())
    assert names == sorted([*ALL, "android-encrypted-v5.password"])
    for name in names:
        a, b = (one / name).read_bytes(), (two / name).read_bytes()
        assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest(), name
        assert len(a) < 400_000, (name, len(a))
    assert (one / "android-encrypted-v5.password").read_text() == android.AB_PASSWORD + "\n"


def test_tar_and_zip_metadata_are_fixed(built):
    one, _ = built
    for name in ("android13-fs.tar", "asterisk-spool.tar"):
        with tarfile.open(one / name) as tar:
            members = tar.getmembers()
        files = [m.name for m in members if m.isfile()]
        assert files == sorted(files)
        assert {m.mtime for m in members} == {android.TAR_MTIME}
        assert all(m.isfile() or m.isdir() for m in members)
    with zipfile.ZipFile(one / "android6-fs.zip") as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {android.ZIP_DATE}
    assert any(i.filename.startswith("storage/emulated/0/") for i in infos)


def test_versions_name_the_encoders():
    for versions in (android.versions(), pbx.versions()):
        for key in ("av", "libavcodec", "libvo-amrwbenc0", "sox"):
            assert versions[key] and versions[key] != "unknown", key
    assert "sqlite3" in android.versions()
    assert android.versions() == android.VERSIONS and pbx.versions() == pbx.VERSIONS
    assert codecs.VERSIONS["libvo-amrwbenc0"] == android.VERSIONS["libvo-amrwbenc0"]


def test_encoders_make_real_audio():
    from builders import audio

    wb = codecs.amr_wb(audio.voice_pcm(0.4, 1, rate=16000))
    hit = identify(wb)
    assert (hit.container, hit.codec, hit.decodes, hit.extra["frames"]) == (
        "amr",
        "amr-wb",
        True,
        20,
    )
    pcm = audio.voice_pcm(0.48, 2)
    gsm = identify(codecs.gsm_raw(pcm), assume="gsm")
    assert (gsm.container, gsm.codec, gsm.decodes, gsm.length) == ("gsm", "gsm", True, 24 * 33)
    wav49 = identify(codecs.gsm_wav49(pcm))
    assert (wav49.container, wav49.codec, wav49.decodes) == ("wav", "gsm", True)
    assert wav49.extra["format_tag"] == 0x31
    wav = identify(codecs.pcm_wav(pcm))
    assert (wav.codec, wav.decodes, wav.length) == ("pcm", True, 44 + len(pcm))


def _extract(archive: Path, root: Path) -> Path:
    """Unpack with the acquisition's Android naming, as a scan would see the paths."""
    from acquisition.android_layout import android_normalise

    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            members = [(i.filename, zf.read(i)) for i in zf.infolist() if not i.is_dir()]
    else:
        with tarfile.open(archive) as tar:
            members = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile()]
    for name, data in members:
        target = root / (android_normalise(name) or name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


def _run_parsers(root: Path) -> dict[str, list[object]]:
    ctx = FolderContext(root)
    out: dict[str, list[object]] = {}
    for path in ctx.paths():
        item = ctx.item(path)
        head = item.local_path.read_bytes()[:512]
        for spec in registry.parsers_for(path, head):
            if spec.name.startswith(MY_PARSERS):
                out.setdefault(spec.name, []).extend(spec.func(item, ctx))
    return out


def _kinds(records):
    return sorted(type(r).__name__ for r in records)


def test_parsers_over_built_android13(built, tmp_path):
    one, _ = built
    out = _run_parsers(_extract(one / "android13-fs.tar", tmp_path))
    assert {k: _kinds(v) for k, v in out.items()} == {
        "android-calllog": ["FindingRecord"] * 2 + ["VoicemailRecord"] * 5,
        "google-dialer-share-copy": ["VoicemailRecord"] * 2,
        "google-dialer-db": ["VoicemailRecord"],
        "vvm-credentials-prefs": ["FindingRecord"],
        "carrier-vvm": ["AudioRecord"] * 2,
        "google-voice": ["VoicemailRecord"],
    }
    vms = [r for r in out["android-calllog"] if isinstance(r, VoicemailRecord)]
    assert [(v.read, v.deleted, v.transcript is not None, bool(v.audio_refs)) for v in vms] == [
        (True, False, True, True),
        (False, False, False, True),
        (True, True, False, True),
        (False, False, False, False),
        (False, False, False, False),
    ]
    att = {r.path.rsplit("/", 1)[1]: r for r in out["carrier-vvm"]}
    assert (att["vm_7_part1"].protection, att["vm_8_part2"].container) == ("encoded", "raw")
    cred = out["vvm-credentials-prefs"][0]
    assert isinstance(cred, FindingRecord) and android.VVM_PASSWORD not in repr(cred)


def test_parsers_over_built_android6_and_spool(built, tmp_path):
    one, _ = built
    out6 = _run_parsers(_extract(one / "android6-fs.zip", tmp_path / "a6"))
    assert {k: _kinds(v) for k, v in out6.items()} == {
        "android-calllog": ["FindingRecord", "VoicemailRecord", "VoicemailRecord"],
        "google-dialer-db": ["VoicemailRecord"],
    }
    spool = _run_parsers(_extract(one / "asterisk-spool.tar", tmp_path / "pbx"))
    assert {k: _kinds(v) for k, v in spool.items()} == {
        "asterisk-message": ["VoicemailRecord"] * 6,
        "asterisk-partial": ["VoicemailRecord"],
        "raw-gsm": ["AudioRecord"] * 7,
        "asterisk-voicemail-conf": ["FindingRecord"] * 2,  # 1001, and 1002 via #include
    }
    assert not [
        r for v in (*out6.values(), *spool.values()) for r in v if isinstance(r, ProblemRecord)
    ]
    assert all(r.decodes for r in spool["raw-gsm"] if isinstance(r, AudioRecord))
