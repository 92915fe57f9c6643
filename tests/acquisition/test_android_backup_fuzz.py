"""Damaged archives never raise anything but the documented errors, and never hang.

Valid ``.ab``, tar and zip files are mutated (bytes overwritten, tails cut) and read to
the end: ``open()`` may refuse with an AcquisitionError, an entry's reader may stop with
an OSError (EntryReadError), and everything else must come out as Problem values.
"""

from __future__ import annotations

import gzip
import io
import random
import tarfile
import zipfile
from pathlib import Path

import pytest
from android_backup_writer import tar_bytes, write_ab
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acquisition.android_backup import AndroidBackupSource
from acquisition.base import Entry, Problem, Source
from acquisition.errors import AcquisitionError
from acquisition.tarball import TarSource
from acquisition.ziparchive import ZipSource

RNG = random.Random(7)
MEMBERS = [
    ("apps/com.a.b/_manifest", b"1\ncom.a.b\n1\n29\n\n0\n0\n"),
    ("apps/com.a.b/db/a.db", RNG.randbytes(3000)),
    ("apps/com.a.b/f/x", b"x" * 5000),
    ("shared/0/v.amr", b"#!AMR\n" + RNG.randbytes(700)),
]

mutations = st.tuples(
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
    st.one_of(st.none(), st.floats(0, 1)),
)


def mutate(data: bytes, change) -> bytes:
    flips, cut = change
    out = bytearray(data)
    for where, value in flips:
        out[int(where * len(out))] = value
    if cut is not None:
        out = out[: int(cut * len(out))]
    return bytes(out)


def exhaust(source: Source) -> int:
    """Read everything; return how many items came out."""
    try:
        source.open()
    except AcquisitionError:
        return 0
    count = 0
    try:
        for item in source.entries():
            count += 1
            assert isinstance(item, Entry | Problem)
            if isinstance(item, Entry) and item.opener is not None:
                try:
                    with item.open() as stream:
                        while stream.read(1 << 16):
                            pass
                except OSError:
                    pass
    finally:
        source.close()
    return count


def pax_tar() -> bytes:
    """Long names, pax records and a GNU long link: the extension headers tarfile parses."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in MEMBERS:
            info = tarfile.TarInfo(name + "/" + "long" * 40)
            info.size, info.mtime = len(data), 1_700_000_000.5
            info.pax_headers = {"comment": "ünïcode"}
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def originals(tmp: Path) -> dict[str, bytes]:
    tar = tar_bytes(MEMBERS)
    out = {
        "ab-plain": write_ab(tmp / "p.ab", tar, compressed=False).read_bytes(),
        "ab-zlib": write_ab(tmp / "z.ab", tar, compressed=True).read_bytes(),
        "ab-enc": write_ab(tmp / "e.ab", tar, compressed=True, password="pw").read_bytes(),
        "ab-enc-v1": write_ab(
            tmp / "1.ab", tar, version=1, compressed=False, password="pw"
        ).read_bytes(),
        "tar": tar,
        "tgz": gzip.compress(tar),
        "pax": pax_tar(),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in MEMBERS:
            zf.writestr(name, data)
    out["zip"] = buf.getvalue()
    return out


SOURCES = {
    "ab-plain": lambda p: AndroidBackupSource(p),
    "ab-zlib": lambda p: AndroidBackupSource(p),
    "ab-enc": lambda p: AndroidBackupSource(p, password="pw"),
    "ab-enc-v1": lambda p: AndroidBackupSource(p, password="pw"),
    "tar": TarSource,
    "tgz": TarSource,
    "pax": TarSource,
    "zip": ZipSource,
}


class Samples(dict):
    def __repr__(self) -> str:  # keep failure reports readable
        return f"<{len(self)} sample archives>"


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    return Samples(originals(tmp_path_factory.mktemp("fuzz")))


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_unmutated_samples_read_cleanly(samples, kind, tmp_path):
    path = tmp_path / "sample"
    path.write_bytes(samples[kind])
    source = SOURCES[kind](path)
    source.open()
    items = list(source.entries())
    source.close()
    assert not [i for i in items if isinstance(i, Problem)]
    assert len(items) == len(MEMBERS)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", sorted(SOURCES))
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(change=mutations)
def test_mutated_archives_give_problems_not_tracebacks(samples, kind, tmp_path, change):
    path = tmp_path / "mutant"
    path.write_bytes(mutate(samples[kind], change))
    exhaust(SOURCES[kind](path))


def test_tarfile_is_not_fooled_by_a_nested_tar(tmp_path):
    """A tar member that is itself a tar stays one member (no resync into it)."""
    inner = tar_bytes([("inner/file", b"i")])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("nested.tar")
        info.size = len(inner)
        tar.addfile(info, io.BytesIO(inner))
    (tmp_path / "n.tar").write_bytes(buf.getvalue())
    with TarSource(tmp_path / "n.tar") as source:
        assert [e.path for e in source.entries()] == ["nested.tar"]
