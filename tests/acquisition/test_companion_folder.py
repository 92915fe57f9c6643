"""Companion and wearable sync folders are recognised by what they hold (issue 7)."""

from __future__ import annotations

import sys
from pathlib import Path

from vmf_testutil import read_lines

from acquisition.companion import match
from acquisition.folder import FolderSource

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "testdata" / "images"))
from builders import audio


def test_profiles_match_by_content():
    assert match(["Library/NanoPhone/", "Library/Voicemail/1042.amr"]).name == "apple-watch"
    assert match(["data/com.samsung.android.app.watchmanager/files/x"]).name == "galaxy-wearable"
    assert match(["Backups/Voicemail/2024-01-02 Alex.m4a"]).name == "pc-sync"
    assert match(["Library/Voicemail/1042.amr"]) is None  # one watch marker is not enough
    assert match(["notes.txt", "photos/a.jpg"]) is None


def test_watch_folder_entries_and_exposure(cli, tmp_path):
    root = tmp_path / "watch"
    vm = root / "Library" / "Voicemail"
    vm.mkdir(parents=True)
    (root / "Library" / "NanoPhone").mkdir()
    amr = audio.amr_nb(1.0, 3)
    (vm / "1042.amr").write_bytes(amr)
    with FolderSource(str(root)) as src:
        assert src.describe()["companion_profile"] == "apple-watch"
        paths = {e.path for e in src.entries() if hasattr(e, "kind")}
    assert "companion/apple-watch/Library/Voicemail/1042.amr" in paths
    res = cli("scan", str(root), "--case", str(tmp_path / "case"), "--quiet")
    assert res.code == 0, res
    audio_lines = [
        x for x in read_lines(tmp_path / "case" / "artifacts.jsonl") if x["type"] == "audio"
    ]
    assert [(a["exposure"], a["severity"]) for a in audio_lines] == [("companion", "high")]
