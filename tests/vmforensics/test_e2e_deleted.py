"""A voicemail deleted after the last checkpoint is found only in the WAL of a bundled
file-system extraction, marked deleted and recovered, and linked to its surviving audio;
an older version of a message that still exists is reported only because it differs
(issue 5)."""

from __future__ import annotations

import hashlib

from vmf_testutil import read_lines, tree_hashes

VM = "private/var/mobile/Library/Voicemail"


def test_deleted_voicemail_only_in_wal(cli, images, tmp_path, schema_validator):
    src = images / "ios-ffs-wal"
    before = tree_hashes(src)
    res = cli("scan", str(src), "--case", str(tmp_path / "case"), "--quiet")
    assert res.code == 0, res
    assert tree_hashes(src) == before
    lines = read_lines(tmp_path / "case" / "artifacts.jsonl")
    for line in lines:
        assert not list(schema_validator.iter_errors(line)), line
    vms = [x for x in lines if x["type"] == "voicemail"]
    live = sorted(v["row"]["ROWID"] for v in vms if v["recovered"] == "live")
    assert live == [1, 2, 3, 4, 5]
    six = [v for v in vms if v["row"].get("ROWID") == 6]
    assert len(six) == 1
    six = six[0]
    assert (six["deleted"], six["recovered"], six["caller"]) == (True, "wal", "+14155550106")
    assert six["evidence_path"] == f"{VM}/voicemail.db-wal"
    assert six["locator"].startswith("wal:frame=") and 0 < six["confidence"] <= 1
    assert six["received_utc"] == "2026-01-01T06:00:00Z"
    wal = (src / VM / "voicemail.db-wal").read_bytes()
    assert b"+14155550106" in wal[six["offset"] : six["offset"] + 200]
    audio = {a["id"]: a for a in lines if a["type"] == "audio"}
    linked = [audio[i] for i in six["audio_ids"]]
    assert [a["evidence_path"] for a in linked] == [f"{VM}/6.amr"]
    assert linked[0]["sha256"] == hashlib.sha256((src / VM / "6.amr").read_bytes()).hexdigest()
    older = [v for v in vms if v["row"].get("ROWID") == 1 and v["recovered"] != "live"]
    assert len(older) == 1 and older[0]["deleted"] is False and older[0]["read"] is False
    current = next(v for v in vms if v["row"].get("ROWID") == 1 and v["recovered"] == "live")
    assert current["read"] is True
    unchanged = [
        v for v in vms if v["row"].get("ROWID") in (2, 3, 4, 5) and v["recovered"] != "live"
    ]
    assert unchanged == []
