"""One canonical spelling of Android locations, whatever produced the copy."""

from __future__ import annotations

import pytest

from acquisition.android_layout import (
    Layout,
    ab_member_path,
    android_normalise,
    classify,
    looks_android,
    looks_device_fs,
)
from acquisition.member_names import MemberNamer


@pytest.mark.parametrize(
    ("found", "canonical"),
    [
        ("data/user/0/com.a.b/databases/x.db", "data/data/com.a.b/databases/x.db"),
        ("data/user/0", "data/data"),
        ("data/data/com.a.b/files/v", "data/data/com.a.b/files/v"),
        ("data/user/10/com.a.b/files/v", "data/user/10/com.a.b/files/v"),
        ("data/user_de/0/com.a.b/files/v", "data/user_de/0/com.a.b/files/v"),
        ("data/user_de/10/com.a.b/files/v", "data/user_de/10/com.a.b/files/v"),
        ("storage/emulated/0/Music/a.amr", "sdcard/Music/a.amr"),
        ("storage/emulated/0", "sdcard"),
        ("storage/emulated/10/Music/a.amr", "storage/emulated/10/Music/a.amr"),
        ("data/media/0/Download/a", "sdcard/Download/a"),
        ("mnt/sdcard/a", "sdcard/a"),
        ("storage/self/primary/a", "sdcard/a"),
        ("storage/sdcard0/a", "sdcard/a"),
        ("sdcard/a", "sdcard/a"),
        ("data/media/0x/a", "data/media/0x/a"),
        ("system/build.prop", "system/build.prop"),
        ("apps/com.a.b/db/x.db", "data/data/com.a.b/databases/x.db"),
        ("shared/0/DCIM/a.jpg", "sdcard/DCIM/a.jpg"),
    ],
)
def test_android_normalise(found, canonical):
    assert android_normalise(found) == canonical


def test_paths_outside_android_roots_are_not_android():
    assert android_normalise("etc/asterisk/voicemail.conf") is None
    assert android_normalise("Users/me/file") is None


@pytest.mark.parametrize(
    "paths",
    [
        ["x", "data/data/com.google.android.dialer/databases/a.db"],
        ["./data/user/0/com.a.b/files/x"],
        ["/data/user_de/0/"],
        ["data/media/0/"],
        ["storage/emulated/0/DCIM/"],
        ["data/system/packages.xml"],
        ["sdcard/Android/data/"],
        ["apps/com.android.providers.telephony/d_f/000000_sms_backup"],
    ],
)
def test_looks_android(paths):
    assert looks_android(paths)


@pytest.mark.parametrize(
    "paths",
    [
        ["data/", "data/raw.csv", "sdcard/", "storage/"],
        ["data/data/notapackage/x"],
        ["apps/com.x.y/src/main.py"],
        ["var/spool/asterisk/voicemail/default/1234/INBOX/msg0000.txt"],
        [],
    ],
)
def test_does_not_look_android(paths):
    assert not looks_android(paths)


def test_looks_android_is_lazy_and_bounded():
    def endless():
        yield "data/data/com.a.b/x"
        raise AssertionError("read past the first marker")

    assert looks_android(endless())
    assert not looks_android(("junk" for _ in range(10**9)), limit=1000)


def test_other_device_file_systems():
    assert looks_device_fs(["private/var/mobile/Library/Voicemail/voicemail.db"])
    assert not looks_device_fs(["data/data/com.a.b/x", "home/user/x"])


def test_ab_tokens_without_a_file_system_home_stay():
    assert ab_member_path("apps/com.a.b/k/abc") == "apps/com.a.b/k/abc"
    assert ab_member_path("apps/com.a.b/_manifest") == "apps/com.a.b/_manifest"
    assert ab_member_path("apps/com.a.b/zz/x") == "apps/com.a.b/zz/x"
    assert ab_member_path("apps/com.a.b") == "apps/com.a.b"
    assert ab_member_path("apps/com.a.b/r") == "data/data/com.a.b"
    assert ab_member_path("shared/x/y") == "shared/x/y"


def test_namer_reports_collisions_of_two_spellings():
    namer = MemberNamer(android_normalise)
    first = namer.name("data/data/com.a.b/databases/a.db")
    second = namer.name("data/user/0/com.a.b/databases/a.db")
    assert (first.path, first.origin, first.problems) == (
        "data/data/com.a.b/databases/a.db",
        None,
        [],
    )
    assert second.path == "data/data/com.a.b/databases/a.db~2"
    assert second.origin == "data/user/0/com.a.b/databases/a.db"
    assert len(second.problems) == 1 and "duplicate" in second.problems[0].message
    assert namer.name("data/data/com.a.b/", is_dir=True).skip is False
    assert namer.name("data/data/com.a.b", is_dir=True).skip is True


def test_classify_top_level_and_wrapped():
    assert classify(["data/", "data/data/com.a.b/x"]) == Layout("android")
    wrapped = classify([".", "Dump/", "Dump/data/user/0/com.a.b/x", "Dump/sdcard/y"])
    assert wrapped == Layout("android", "Dump/")
    normalise = wrapped.normaliser()
    assert normalise is not None
    assert normalise("Dump/data/user/0/com.a.b/x") == "data/data/com.a.b/x"
    assert normalise("Dump/storage/emulated/0/y") == "sdcard/y"
    assert normalise("Dump/notes.txt") == "notes.txt"
    assert normalise("Dump") == ""
    # a wrapper is only looked through when everything is inside it
    assert classify(["Dump/data/data/com.a.b/x", "other/file"]) == Layout("generic")
    assert classify(["private/var/mobile/Library/x"]) == Layout("device")
    assert Layout("device").normaliser() is None


def test_classify_stops_at_the_first_marker():
    def names():
        yield "data/data/com.a.b/x"
        raise AssertionError("read past the first marker")

    assert classify(names()).name == "android"
