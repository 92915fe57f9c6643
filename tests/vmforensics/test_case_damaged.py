"""A case whose custody log was cut mid-line (power lost during an unsynced append) is
refused with a message naming the log, never an internal error, and is left as it is."""

from __future__ import annotations

import hashlib


def test_cut_custody_log_is_refused_clearly(cli, images, tmp_path):
    case = tmp_path / "case"
    assert cli("scan", str(images / "ios-legacy"), "--case", str(case), "--quiet").code == 0
    log = case / "custody.jsonl"
    data = log.read_bytes()
    cut = data[: len(data) - 40]  # the last event lost its tail and its newline
    log.write_bytes(cut)
    before = hashlib.sha256(log.read_bytes()).hexdigest()
    res = cli("scan", str(images / "ios-plain"), "--case", str(case), "--quiet")
    assert "Traceback" not in res.err and "internal error" not in res.err, res
    assert res.code == 3, res
    assert "custody.jsonl" in res.err
    assert hashlib.sha256(log.read_bytes()).hexdigest() == before


def test_case_folder_inside_a_source_is_refused(cli, images, tmp_path):
    """Writing the case inside a source folder would modify the source (and feed the
    case's own files back into the scan): refused as a usage error, nothing written."""
    import shutil

    src = tmp_path / "seized"
    shutil.copytree(images / "ios-legacy", src)
    listing = sorted(str(p.relative_to(src)) for p in src.rglob("*"))
    for case in (src / "case", src, src / "sub" / "case"):
        res = cli("scan", str(src), "--case", str(case), "--quiet")
        assert res.code == 2, res
        assert "inside" in res.err and "Traceback" not in res.err
        assert sorted(str(p.relative_to(src)) for p in src.rglob("*")) == listing
    res = cli("scan", "seized", "--case", "seized/case", "--quiet", cwd=tmp_path)
    assert res.code == 2, res
    assert sorted(str(p.relative_to(src)) for p in src.rglob("*")) == listing
