"""The README's severity table is the code's table, and the policy is applied."""

from __future__ import annotations

import re
from pathlib import Path

from vmforensics.exposure import exposure_of, package_of
from vmforensics.severity import POLICY, severity


def test_readme_table_matches_code():
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = text.split("<!-- severity-table:start -->")[1].split("<!-- severity-table:end -->")[0]
    rows = re.findall(r"^\| `([a-z-]+)` \| (\w+) \| (\w+) \|$", block, re.M)
    assert {exp: (weak, strong) for exp, weak, strong in rows} == POLICY


def test_policy_cells():
    assert severity("shared-storage", "none") == "critical"
    assert severity("shared-storage", "encrypted") == "low"
    assert severity("app-cache", "xor") == "high"
    assert severity("platform-store", "none") == "info"
    assert severity("no-such-exposure", "none") == "high"  # unknown


def test_exposure_and_package_from_paths():
    cases = {
        "HomeDomain/Library/Voicemail/1.amr": ("platform-store", None),
        "data/data/com.android.providers.contacts/app_voicemail-data/voicemail1": (
            "platform-store",
            "com.android.providers.contacts",
        ),
        "data/data/com.google.android.dialer/cache/my_cache/a.amr": (
            "app-cache",
            "com.google.android.dialer",
        ),
        "data/data/com.att.mobile.android.vvm/files/x": (
            "app-sandbox",
            "com.att.mobile.android.vvm",
        ),
        "sdcard/Music/voicemail-shared-1.amr": ("shared-storage", None),
        "var/spool/asterisk/voicemail/default/1001/INBOX/msg0000.wav": ("server-spool", None),
        "AppDomain-com.example.vvm/Library/Caches/a.m4a": ("app-cache", "com.example.vvm"),
        "crash/VirtualApp.ips": ("log-or-crash", None),
        "data/data/com.google.android.wearable.app/files/a.amr": (
            "companion",
            "com.google.android.wearable.app",
        ),
        "random/blob.bin": ("unknown", None),
    }
    for path, (exposure, package) in cases.items():
        assert (exposure_of(path), package_of(path)) == (exposure, package), path
    assert exposure_of("anything", "raw-image") == "unknown"


def test_spool_scanned_directly_is_server_spool():
    assert exposure_of("default/1001/INBOX/msg0000.wav") == "server-spool"
    assert exposure_of("voicemail/default/1001/Old/msg0001.WAV") == "server-spool"
    assert exposure_of("etc/asterisk/voicemail.conf") == "server-spool"
    assert exposure_of("photos/2024/INBOX/img.jpg") == "unknown"


def test_error_lines_keep_to_the_contract_stages(schema_validator):
    from vmforensics.artifacts import error_line

    line = error_line("a/b", "protection", "odd stage from a parser", "S1")
    assert line["stage"] == "parse" and line["message"].startswith("[protection]")
    assert not list(schema_validator.iter_errors(line))
