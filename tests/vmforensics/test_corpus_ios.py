"""The real (anonymised) MVT iOS 14.3 backup: no crash, and the missing voicemail.db is
named as missing (issue 2)."""

from __future__ import annotations

import json

from vmf_testutil import read_lines, tree_hashes


def test_mvt_backup_scans_and_reports_missing_voicemail_db(cli, corpus, tmp_path, schema_validator):
    src = corpus / "ios-backup-mvt"
    before = tree_hashes(src)
    case = tmp_path / "case"
    res = cli("scan", str(src), "--case", str(case), "--quiet")
    assert res.code == 0, res
    assert "Traceback" not in res.err
    lines = read_lines(case / "artifacts.jsonl")
    for line in lines:
        assert not list(schema_validator.iter_errors(line))
    missing = [
        x
        for x in lines
        if x["type"] == "error"
        and x["evidence_path"] == "HomeDomain/Library/Voicemail/voicemail.db"
    ]
    assert len(missing) == 1
    assert "missing" in missing[0]["message"]
    assert missing[0]["origin_path"] == "992df473bbb9e132f4b3b6e4d33f72171e97bc7a"
    source = json.loads((case / "case.json").read_text())["sources"][0]
    assert source["description"]["product_type"] == "iPhone9,3"
    assert source["description"]["ios_version"] == "14.3"
    assert source["description"]["encrypted"] is False
    assert source["files_stored"] == 10  # the payload files the fixture ships (+ 1 duplicate)
    assert tree_hashes(src) == before
