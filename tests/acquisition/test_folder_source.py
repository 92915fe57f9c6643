"""Folder sources: Android layout, links never followed, specials never opened, unreadables."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from source_reading import read_all

from acquisition.base import Entry, EntryKind
from acquisition.errors import SourceUnavailable
from acquisition.folder import FolderSource

REPO = Path(__file__).resolve().parents[2]
PKG = "com.samsung.vvm"


def write(root: Path, rel: str, data: bytes = b"x") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_android_folder_is_normalised(tmp_path):
    write(tmp_path, f"data/user/0/{PKG}/files/vm1.amr", b"#!AMR\n1")
    write(tmp_path, "storage/emulated/0/Voicemail/vm2.amr", b"#!AMR\n2")
    write(tmp_path, f"data/user_de/0/{PKG}/databases/x.db", b"db")
    source = FolderSource(tmp_path)
    assert FolderSource.probe(tmp_path)
    entries, problems, content = read_all(source)
    assert problems == []
    assert content == {
        f"data/data/{PKG}/files/vm1.amr": b"#!AMR\n1",
        "sdcard/Voicemail/vm2.amr": b"#!AMR\n2",
        f"data/user_de/0/{PKG}/databases/x.db": b"db",
    }
    origins = {e.path: e.origin for e in entries}
    assert origins[f"data/data/{PKG}/files/vm1.amr"] == f"data/user/0/{PKG}/files/vm1.amr"
    assert origins["sdcard/Voicemail/vm2.amr"] == "storage/emulated/0/Voicemail/vm2.amr"
    assert origins[f"data/user_de/0/{PKG}/databases/x.db"] is None
    assert source.describe() == {"format": "folder", "layout": "android"}
    assert source.kind == "fs-extraction"


def test_generic_folder_in_sorted_order_with_times(tmp_path):
    write(tmp_path, "b/2.txt", b"2")
    write(tmp_path, "a.txt", b"1")
    write(tmp_path, "b/1.txt", b"11")
    os.utime(tmp_path / "a.txt", (1_500_000_000, 1_600_000_000))
    os.chmod(tmp_path / "a.txt", 0o640)
    source = FolderSource(tmp_path)
    entries, problems, content = read_all(source)
    assert [e.path for e in entries] == ["a.txt", "b", "b/1.txt", "b/2.txt"]
    assert problems == [] and content["b/1.txt"] == b"11"
    first = entries[0]
    assert first.times["mtime"] == 1_600_000_000 and first.times["atime"] == 1_500_000_000
    assert first.mode == 0o640 and first.size == 1 and first.origin is None
    assert source.kind == "folder" and source.describe()["layout"] == "generic"


def test_symlinks_are_listed_never_followed(tmp_path):
    outside = write(tmp_path, "outside/secret.txt", b"host secret")
    root = tmp_path / "case"
    write(root, "inside/real.txt", b"real")
    (root / "to-outside").symlink_to(outside)
    (root / "up").symlink_to("../outside")
    (root / "to-inside").symlink_to("inside/real.txt")
    (root / "loop").symlink_to("loop")
    entries, problems, content = read_all(FolderSource(root))
    by_path = {e.path: e for e in entries}
    assert content == {"inside/real.txt": b"real"}
    for name in ("to-outside", "up", "to-inside", "loop"):
        assert by_path[name].kind is EntryKind.SYMLINK and by_path[name].opener is None
    assert by_path["up"].link_target == "../outside"
    assert "up/secret.txt" not in by_path  # a linked folder is not descended into
    assert {p.path for p in problems} == {"to-outside", "up"}
    assert all("outside the folder" in p.message for p in problems)


@pytest.mark.timeout(30)
def test_fifo_and_devices_are_never_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    write(tmp_path, "z.txt", b"after the fifo")
    try:
        os.mknod(tmp_path / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        has_device = True
    except (PermissionError, OSError):
        has_device = False
    entries, problems, content = read_all(FolderSource(tmp_path))
    by_path = {e.path: e for e in entries}
    assert by_path["pipe"].kind is EntryKind.OTHER and by_path["pipe"].opener is None
    assert by_path["pipe"].meta["file_type"] == "fifo"
    assert content == {"z.txt": b"after the fifo"}
    assert any(p.path == "pipe" and "fifo" in p.message for p in problems)
    if has_device:
        assert by_path["null"].kind is EntryKind.OTHER
        assert by_path["null"].meta["device"] == [1, 3]


@pytest.mark.timeout(30)
def test_file_swapped_for_a_fifo_after_listing_does_not_hang(tmp_path):
    write(tmp_path, "f", b"x")
    with FolderSource(tmp_path) as source:
        entry = next(e for e in source.entries() if isinstance(e, Entry))
        (tmp_path / "f").unlink()
        os.mkfifo(tmp_path / "f")
        with pytest.raises(OSError, match="no longer a regular file"):
            entry.open()


LIST_AS_UNPRIVILEGED = r"""
import json, sys
sys.path.insert(0, sys.argv[2])
from acquisition.folder import FolderSource
from acquisition.base import Problem
out = []
with FolderSource(sys.argv[1]) as source:
    for item in source.entries():
        if isinstance(item, Problem):
            out.append(["problem", item.path, item.message])
        else:
            out.append(["entry", item.path, item.kind.value,
                        item.open().read().decode() if item.opener else None])
print(json.dumps(out))
"""


def test_unreadable_file_and_folder_are_problems_and_the_run_goes_on(tmp_path):
    write(tmp_path, "a.txt", b"readable")
    write(tmp_path, "locked.txt", b"no").chmod(0)
    write(tmp_path, "closed/inner.txt", b"hidden")
    (tmp_path / "closed").chmod(0)
    write(tmp_path, "z.txt", b"still read")
    command = [sys.executable, "-c", LIST_AS_UNPRIVILEGED, str(tmp_path), str(REPO)]
    if os.geteuid() == 0:  # root reads anything: drop the capabilities that allow it
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot make a file unreadable")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    run = subprocess.run(command, capture_output=True, text=True)
    (tmp_path / "closed").chmod(0o755)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    entries = {row[1]: row for row in out if row[0] == "entry"}
    problems = {row[1]: row[2] for row in out if row[0] == "problem"}
    assert entries["a.txt"][3] == "readable" and entries["z.txt"][3] == "still read"
    assert entries["locked.txt"][2] == "other" and entries["locked.txt"][3] is None
    assert "unreadable" in problems["locked.txt"]
    assert entries["closed"][2] == "dir"
    assert "cannot list folder" in problems["closed"]


def test_missing_folder(tmp_path):
    with pytest.raises(SourceUnavailable):
        FolderSource(tmp_path / "nope").open()
    assert not FolderSource.probe(tmp_path / "nope")
    write(tmp_path, "file")
    assert not FolderSource.probe(tmp_path / "file")


def test_undecodable_names_survive(tmp_path):
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9.txt"
    with open(raw, "wb") as f:
        f.write(b"latin-1 name")
    entries, _problems, content = read_all(FolderSource(tmp_path))
    assert content == {"caf\\xe9.txt": b"latin-1 name"}
    json.dumps([e.path for e in entries])  # fit for the JSON outputs


def test_android_tree_inside_one_wrapping_folder(tmp_path):
    write(tmp_path, f"Dump/data/user/0/{PKG}/files/vm1.amr", b"1")
    write(tmp_path, "Dump/README.txt", b"made by some tool")
    source = FolderSource(tmp_path)
    entries, _problems, content = read_all(source)
    assert content == {f"data/data/{PKG}/files/vm1.amr": b"1", "README.txt": b"made by some tool"}
    assert source.describe() == {"format": "folder", "layout": "android", "android_root": "Dump/"}
    assert next(e for e in entries if e.path == "README.txt").origin == "Dump/README.txt"


def test_two_spellings_of_one_app_folder_are_both_listed(tmp_path):
    write(tmp_path, f"data/data/{PKG}/files/a", b"1")
    write(tmp_path, f"data/user/0/{PKG}/files/a", b"2")
    write(tmp_path, f"data/user/0/{PKG}/files/b", b"3")
    _entries, problems, content = read_all(FolderSource(tmp_path))
    assert content == {
        f"data/data/{PKG}/files/a": b"1",
        f"data/data/{PKG}/files/a~2": b"2",
        f"data/data/{PKG}/files/b": b"3",
    }
    assert len(problems) == 1 and "duplicate" in problems[0].message
