"""The build script rebuilds the committed iOS images: byte for byte when the recorded
encoder and writer versions are installed, by content (records, audio) otherwise."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import av
import pytest

from acquisition.ios_backup import IosBackupSource

IMAGES = Path(__file__).resolve().parents[2] / "testdata" / "images"
sys.path.insert(0, str(IMAGES))
from builders import ios  # noqa: E402

NAMES = ["ios-plain", "ios-encrypted", "ios-legacy"]


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rebuilt")
    subprocess.run(
        [sys.executable, str(IMAGES / "build.py"), str(out), *NAMES],
        check=True,
        capture_output=True,
    )
    return out


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def contents(root: Path, tmp: Path) -> dict[str, object]:
    password = ios.PASSWORD if "encrypted" in root.name else None
    out: dict[str, object] = {}
    with IosBackupSource(str(root), password=password, workdir=tmp) as src:
        for e in src.entries():
            if getattr(e, "opener", None) is None:
                continue
            with e.open() as f:
                data = f.read()
            if e.path.endswith(".amr"):
                with av.open(io.BytesIO(data)) as c:
                    out[e.path] = ("audio", sum(fr.samples for fr in c.decode(audio=0)))
            elif e.path.endswith("voicemail.db"):
                import sqlite3

                tmp.mkdir(parents=True, exist_ok=True)
                db = tmp / "vm.db"
                db.write_bytes(data)
                with sqlite3.connect(db) as conn:
                    out[e.path] = sorted(conn.execute("SELECT * FROM voicemail").fetchall())
            else:
                out[e.path] = len(data)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_rebuild_matches_committed(rebuilt, tmp_path, name):
    recorded = json.loads((IMAGES / "VERSIONS.json").read_text())[name]
    current = ios.versions()
    if all(current.get(k) == v for k, v in recorded.items()):
        assert files(rebuilt / name) == files(IMAGES / name)
    else:
        assert contents(rebuilt / name, tmp_path / "a") == contents(IMAGES / name, tmp_path / "b")


OTHER = [
    "android13-fs.tar",
    "android6-fs.zip",
    "asterisk-spool.tar",
    "android-v1.ab",
    "android-encrypted-v5.ab",
    "android-hidden-fs.tar",
]


def _builder_versions(name: str) -> dict[str, str]:
    import importlib
    import pkgutil

    import builders

    for info in pkgutil.iter_modules(builders.__path__):
        module = importlib.import_module(f"builders.{info.name}")
        if name in getattr(module, "IMAGES", {}):
            return module.versions()
    raise AssertionError(f"no builder makes {name}")


def _names(path: Path) -> list[str]:
    import tarfile
    import zipfile

    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return sorted(zf.namelist())
    if tarfile.is_tarfile(path):
        with tarfile.open(path) as tf:
            return sorted(tf.getnames())
    return [path.read_bytes()[:15].decode("latin-1")]


@pytest.mark.parametrize("name", OTHER)
def test_rebuild_other_images(tmp_path, name):
    subprocess.run(
        [sys.executable, str(IMAGES / "build.py"), str(tmp_path), name],
        check=True,
        capture_output=True,
    )
    recorded = json.loads((IMAGES / "VERSIONS.json").read_text())[name]
    current = _builder_versions(name)
    if all(current.get(k) == v for k, v in recorded.items()):
        assert (tmp_path / name).read_bytes() == (IMAGES / name).read_bytes()
    else:
        assert _names(tmp_path / name) == _names(IMAGES / name)


def test_content_comparison_detects_a_difference(rebuilt, tmp_path):
    """The fallback comparison is not vacuous: other images compare unequal."""
    a = contents(IMAGES / "ios-plain", tmp_path / "a")
    b = contents(IMAGES / "ios-legacy", tmp_path / "b")
    assert a != b
    assert any(v[0] == "audio" and v[1] > 0 for v in a.values() if isinstance(v, tuple))
