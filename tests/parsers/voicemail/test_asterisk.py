import pytest
from vm_folder_ctx import FolderContext
from vm_images import builder, write_tree

from parsers import registry
from parsers.records import AudioRecord, AudioRef, FindingRecord, ProblemRecord, VoicemailRecord
from parsers.voicemail import asterisk as m

pbx = builder("pbx")
SP = pbx.SPOOL


@pytest.fixture(scope="module")
def spool(tmp_path_factory):
    return write_tree(tmp_path_factory.mktemp("pbx"), pbx.spool_files())


def _all_records(root):
    """Every record every registered parser yields over the folder (as the pipeline would)."""
    ctx = FolderContext(root)
    out = []
    for path in ctx.paths():
        item = ctx.item(path)
        head = item.local_path.read_bytes()[:512]
        for spec in registry.parsers_for(path, head):
            if spec.name.startswith(("asterisk", "raw-gsm")):
                out.extend(spec.func(item, ctx))
    return out


def test_spool_messages(spool):
    records = _all_records(spool)
    vms = sorted((r for r in records if isinstance(r, VoicemailRecord)), key=lambda r: r.path)
    got = [
        (
            v.path.removeprefix(SP + "/"),
            v.caller,
            v.callee,
            v.received_utc,
            v.received_raw,
            v.duration_s,
            v.read,
            v.deleted,
            v.extra.get("caller_name"),
        )
        for v in vms
    ]
    assert got == [
        ("1001/Deleted/msg0000.txt", None, "1001", "2023-11-12T22:13:20Z", 1699827200, 1.0,
         None, True, None),
        ("1001/INBOX/msg0000.txt", "5551230001", "1001", "2023-11-14T22:13:20Z", 1700000000,
         2.0, False, False, "Alice Example"),
        ("1001/INBOX/msg0001.txt", "5551230002", "1001", "2023-11-14T23:13:20Z", 1700003600,
         1.0, False, False, None),
        ("1001/Old/msg0000.txt", "5551230003", "1001", "2023-11-13T22:13:20Z", 1699913600,
         1.0, True, False, "Bob"),
        ("1001/Urgent/msg0000.txt", "5551230004", "1001", "2023-11-15T00:13:20Z", 1700007200,
         1.0, False, False, "Carol"),
        (f"1001/tmp/{pbx.PARTIAL_STEM}", "5551230009", "1001", "2023-11-15T00:43:20Z",
         1700009000, None, None, False, "Eve"),
        ("1002/INBOX/msg0000.txt", "5551230005", "1002", "2023-11-14T22:14:20Z", 1700000060,
         1.0, False, False, "Dave"),
    ]  # fmt: skip
    assert all(v.platform == "asterisk" and v.transcript is None for v in vms)
    inbox = vms[1]
    assert inbox.audio_refs == [
        AudioRef(f"{SP}/1001/INBOX/msg0000.WAV"),
        AudioRef(f"{SP}/1001/INBOX/msg0000.gsm"),
        AudioRef(f"{SP}/1001/INBOX/msg0000.wav"),
    ]
    assert inbox.extra["callerid"] == '"Alice Example" <5551230001>'
    assert inbox.extra["origdate"] == "Tue Nov 14 10:13:20 PM UTC 2023"
    assert inbox.extra["msg_id"].startswith("1700000000-")
    assert (inbox.extra["folder"], inbox.extra["mailbox"], inbox.extra["context"]) == (
        "INBOX",
        "1001",
        "default",
    )
    partial = vms[5]
    assert partial.extra["partial"] is True and "tmp/" in partial.extra["note"]
    assert partial.audio_refs == [
        AudioRef(f"{SP}/1001/tmp/{pbx.PARTIAL_STEM}.gsm"),
        AudioRef(f"{SP}/1001/tmp/{pbx.PARTIAL_STEM}.wav"),
    ]


def test_raw_gsm_is_reported_as_audio(spool):
    records = _all_records(spool)
    audio = {r.path.removeprefix(SP + "/"): r for r in records if isinstance(r, AudioRecord)}
    assert sorted(audio) == sorted(
        [f"1001/{f}/msg0000.gsm" for f in ("Deleted", "INBOX", "Old", "Urgent")]
        + ["1001/INBOX/msg0001.gsm", "1002/INBOX/msg0000.gsm", f"1001/tmp/{pbx.PARTIAL_STEM}.gsm"]
    )
    a = audio["1001/INBOX/msg0000.gsm"]
    assert (a.container, a.codec, a.offset, a.length, a.decodes, a.truncated) == (
        "gsm", "gsm", 0, 80 * 33, True, False
    )  # fmt: skip
    assert a.duration_s == pytest.approx(1.6)
    assert a.protection == "none"


def test_pins_in_cleartext_never_reveal_the_pin(spool):
    records = _all_records(spool)
    findings = [r for r in records if isinstance(r, FindingRecord)]
    got = [(f.code, f.severity, f.path, f.locator, f.extra["line"]) for f in findings]
    assert got == [
        ("pbx-pin-cleartext", "medium", f"{pbx.ETC}/voicemail.conf",
         "conf:context=default,mailbox=1001", 11),
        ("pbx-pin-cleartext", "medium", f"{pbx.ETC}/voicemail_secrets.conf",
         "conf:context=default,mailbox=1002", 2),
    ]  # fmt: skip
    conf = (spool / pbx.ETC / "voicemail.conf").read_bytes()
    assert conf[findings[0].offset :].startswith(b"1001 =>")
    assert "included from etc/asterisk/voicemail.conf" in findings[1].detail
    for f in findings:
        text = repr(f)
        for pin in pbx.PINS.values():
            assert pin not in text
    assert not [r for r in records if isinstance(r, ProblemRecord)]


def test_garbage_message_file_and_stub(tmp_path):
    box = tmp_path / "voicemail/default/2000/INBOX"
    box.mkdir(parents=True)
    (box / "msg0000.txt").write_bytes(b"\x00\xff garbage \x89PNG\r\n" * 50)
    (box / "msg0001.txt").write_bytes(b"; just a stub\n[message]\nflag=\n")
    (box / "msg0002.txt").write_bytes(
        b"[message]\ncallerid=<>\norigtime=99999999999999999999\nduration=-4\n"
        b"origdate=Tue Jan  9 03:04:05 PM UTC 2024\n"
    )
    ctx = FolderContext(tmp_path)
    out0 = list(m.parse_message(ctx.item("voicemail/default/2000/INBOX/msg0000.txt"), ctx))
    assert len(out0) == 1 and isinstance(out0[0], ProblemRecord)
    assert "no [message] section" in out0[0].message
    assert list(m.parse_message(ctx.item("voicemail/default/2000/INBOX/msg0001.txt"), ctx)) == []
    (vm,) = m.parse_message(ctx.item("voicemail/default/2000/INBOX/msg0002.txt"), ctx)
    # origtime out of range: origdate (UTC) is used and kept raw
    assert (vm.caller, vm.received_utc, vm.received_raw, vm.duration_s) == (
        None,
        "2024-01-09T15:04:05Z",
        "Tue Jan  9 03:04:05 PM UTC 2024",
        None,
    )
    assert vm.audio_refs == []


def test_include_loop_and_secret_conf(tmp_path):
    etc = tmp_path / "etc/asterisk"
    etc.mkdir(parents=True)
    (etc / "voicemail.conf").write_text(
        '[default]\n#include "a.conf"\n1001 => 1234,A\n#include "missing.conf"\n'
    )
    (etc / "a.conf").write_text('[other]\n2001 => -99,B\n#include "voicemail.conf"\n')
    box = tmp_path / "var/spool/asterisk/voicemail/default/3003"
    box.mkdir(parents=True)
    (box / "secret.conf").write_text("; spooldir password\n[general]\npassword = 5150\n")
    ctx = FolderContext(tmp_path)
    out = list(m.parse_voicemail_conf(ctx.item("etc/asterisk/voicemail.conf"), ctx))
    problems = [r for r in out if isinstance(r, ProblemRecord)]
    findings = [r for r in out if isinstance(r, FindingRecord)]
    assert len(problems) == 1 and "#include loop" in problems[0].message
    assert problems[0].path == "etc/asterisk/a.conf"
    # The include switches the section; the line after it stays in that section, as in
    # Asterisk, where an include is textual.
    assert [(f.path, f.locator) for f in findings] == [
        ("etc/asterisk/a.conf", "conf:context=other,mailbox=2001"),
        ("etc/asterisk/voicemail.conf", "conf:context=other,mailbox=1001"),
    ]
    secret = "var/spool/asterisk/voicemail/default/3003/secret.conf"
    (f,) = m.parse_secret_conf(ctx.item(secret), ctx)
    assert (f.code, f.locator, f.extra["line"], f.offset) == (
        "pbx-pin-cleartext",
        "conf:context=default,mailbox=3003",
        3,
        len("; spooldir password\n[general]\n"),
    )
    assert "5150" not in repr(f)


def test_gsm_extension_without_gsm_frames(tmp_path):
    (tmp_path / "x.gsm").write_bytes(b"\x00" * 100)
    (tmp_path / "empty.gsm").write_bytes(b"")
    ctx = FolderContext(tmp_path)
    (p,) = m.parse_gsm(ctx.item("x.gsm"), ctx)
    assert isinstance(p, ProblemRecord) and p.offset == 0
    assert list(m.parse_gsm(ctx.item("empty.gsm"), ctx)) == []


def test_callerid_forms():
    assert m.split_callerid('"A B" <+1555>') == ("+1555", "A B")
    assert m.split_callerid("<1234>") == ("1234", None)
    assert m.split_callerid("Unknown") == (None, None)
    assert m.split_callerid("5551234") == ("5551234", None)


def test_glob_and_absolute_includes(tmp_path):
    etc = tmp_path / "srv/etc/asterisk"
    (etc / "users").mkdir(parents=True)
    (etc / "voicemail.conf").write_text(
        "[general]\nformat=wav\n[office]\n#include <users/*.conf>\n"
        "#include /etc/asterisk/abs.conf\n#exec /bin/cat x\n"
    )
    (etc / "users/a.conf").write_text("2001 => 11,A\n")
    (etc / "users/b.conf").write_text("2002 => 22,B\n2003 => ,no pin\n")
    (etc / "abs.conf").write_text("2004 = 44,D\n")
    (tmp_path / "client_secret.conf").write_text("password=x\n")
    ctx = FolderContext(tmp_path)
    out = list(m.parse_voicemail_conf(ctx.item("srv/etc/asterisk/voicemail.conf"), ctx))
    assert [(f.path.rsplit("/", 2)[-2:], f.extra["mailbox"], f.extra["context"]) for f in out] == [
        (["users", "a.conf"], "2001", "office"),
        (["users", "b.conf"], "2002", "office"),
        (["asterisk", "abs.conf"], "2004", "office"),
    ]
    names = [s.name for s in registry.parsers_for("client_secret.conf", b"password=x")]
    assert "asterisk-secret-conf" not in names
