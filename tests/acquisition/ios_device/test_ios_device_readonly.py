"""Proof that iOS acquisition cannot change the phone.

Two independent checks: no destructive pymobiledevice3 call is reachable from the package's
source (static), and a full acquisition sends the virtual phone only requests from an
allow-list of reads plus the sync-lock dance every backup client performs (dynamic). Every
lockdown request the phone received was also reported through ``on_command``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from acquisition.ios_device import IosDeviceSource
from vmforensics.virtual.ios import VirtualIosDevice
from vmforensics.virtual.ios.sample import build_backup

pytestmark = pytest.mark.timeout(90)

PACKAGE = Path(__file__).resolve().parents[3] / "acquisition" / "ios_device"

# pymobiledevice3 methods that change the phone (or can: pull(erase=...), unback/extract
# send DeviceLink requests we have no use for).
FORBIDDEN_CALLS = {
    "erase_device", "restore", "change_password", "clear", "unback", "extract",
    "set_file_contents", "push", "rm", "rm_single", "makedirs", "rename", "fwrite", "link",
    "set_value", "remove_value", "unpair", "enter_recovery", "set_uses24hClock",
    "get_new_sysdiagnose", "pull", "install", "uninstall", "upgrade", "set_icon_state",
}  # fmt: skip
FORBIDDEN_STRINGS = {"EraseDevice", "Restore", "ChangePassword", "SetValue", "RemoveValue"}


def sources() -> list[Path]:
    files = sorted(PACKAGE.glob("*.py"))
    assert files, PACKAGE
    return files


def test_no_destructive_call_in_the_source() -> None:
    offences: list[str] = []
    for path in sources():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in FORBIDDEN_CALLS:
                    offences.append(f"{path.name}:{node.lineno} calls {name}()")
                for kw in node.keywords:
                    if kw.arg == "erase" and not (
                        isinstance(kw.value, ast.Constant) and kw.value.value is False
                    ):
                        offences.append(f"{path.name}:{node.lineno} passes erase=")
                if name == "fopen":
                    mode = node.args[1] if len(node.args) > 1 else None
                    if not (isinstance(mode, ast.Constant) and mode.value == "r"):
                        offences.append(f"{path.name}:{node.lineno} fopen without mode 'r'")
            if isinstance(node, ast.Constant) and node.value in FORBIDDEN_STRINGS:
                offences.append(f"{path.name}:{node.lineno} mentions {node.value!r}")
    assert offences == []


def test_the_static_check_catches_offences(tmp_path: Path) -> None:
    """The scan above is not vacuous: it flags each kind of offence it looks for."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "async def f(s, afc, cm):\n"
        "    await s.erase_device()\n"
        "    await cm.pull('x', erase=True)\n"
        "    await afc.fopen('/x', 'w')\n"
    )
    tree = ast.parse(bad.read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    names = {n.func.attr for n in calls if isinstance(n.func, ast.Attribute)}
    assert {"erase_device", "pull"} <= FORBIDDEN_CALLS & names
    assert any(kw.arg == "erase" for n in calls for kw in n.keywords)


ALLOWED = [
    ("usbmuxd", r"ReadBUID|ListDevices|ReadPairRecord|Connect \d+"),
    ("lockdown", r"QueryType|GetValue( \S+)*|StartSession|StopSession|Goodbye"),
    (
        "lockdown",
        r"StartService com\.apple\.(afc|mobile\.house_arrest|crashreportcopymobile|"
        r"crashreportmover|mobile\.notification_proxy|mobile\.installation_proxy|"
        r"springboardservices|mobilebackup2)( \+EscrowBag)?",
    ),
    ("com.apple.afc", r"(READ_DIR|GET_FILE_INFO) .*|GET_DEVINFO|FILE_OPEN r /.*|READ .*"),
    ("com.apple.afc", r"FILE_CLOSE \d+"),
    # the sync lock every backup client takes (iTunes, Finder, libimobiledevice)
    ("com.apple.afc", r"FILE_OPEN r\+ /com\.apple\.itunes\.lock_sync"),
    ("com.apple.afc", r"FILE_LOCK /com\.apple\.itunes\.lock_sync (6|12)"),
    ("com.apple.crashreportcopymobile", r"(READ_DIR|GET_FILE_INFO|READ) .*|FILE_OPEN r /.*"),
    ("com.apple.crashreportcopymobile", r"FILE_CLOSE \d+"),
    ("com.apple.crashreportmover", r"ping"),
    ("com.apple.mobile.house_arrest", r"Vend(Container|Documents) \S+"),
    ("com.apple.mobile.house_arrest", r"afc ((READ_DIR|GET_FILE_INFO|READ) .*|FILE_OPEN r /.*)"),
    ("com.apple.mobile.house_arrest", r"afc FILE_CLOSE \d+"),
    ("com.apple.mobile.notification_proxy", r"PostNotification com\.apple\.itunes-mobdev\.\w+"),
    ("com.apple.mobile.notification_proxy", r"ObserveNotification \S+|Shutdown"),
    ("com.apple.mobile.installation_proxy", r"Browse"),
    ("com.apple.springboardservices", r"getIconPNGData"),
    ("com.apple.mobilebackup2", r"Hello|Backup|backup sent \d+ files|DLMessageDisconnect"),
]


def allowed(service: str, text: str) -> bool:
    return any(s == service and re.fullmatch(p, text) for s, p in ALLOWED)


def test_the_allow_list_refuses_writes() -> None:
    assert allowed("com.apple.afc", "FILE_OPEN r /DCIM/x")
    assert not allowed("com.apple.afc", "FILE_OPEN w /DCIM/x")
    assert not allowed("com.apple.afc", "FILE_OPEN r+ /DCIM/x")
    assert not allowed("com.apple.afc", "REMOVE_PATH /DCIM/x")
    assert not allowed("com.apple.crashreportcopymobile", "REMOVE_PATH /x.ips")
    assert not allowed("com.apple.mobilebackup2", "EraseDevice")
    assert not allowed("lockdown", "SetValue")
    assert not allowed("lockdown", "")
    assert not allowed("usbmuxd", "SavePairRecord")


@pytest.mark.parametrize("encrypted", [False, True])
def test_a_full_acquisition_only_reads(tmp_path, monkeypatch, encrypted) -> None:
    password = "pw" if encrypted else None
    image = build_backup(tmp_path / "image", password=password)
    commands: list[str] = []
    with VirtualIosDevice(image) as dev:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", dev.usbmux_address)
        src = IosDeviceSource(
            dev.udid,
            workdir=tmp_path / "work",
            pairing_dir=tmp_path / "pairing",
            profile="full",
            password=password,
            on_command=commands.append,
        )
        with src:
            items = list(src.entries())
        requests = list(dev.requests)
    assert len(items) > 20 and src.complete is True
    refused = [(s, t) for s, t in requests if not allowed(s, t)]
    assert refused == []
    services = {s for s, _t in requests}
    assert {
        "com.apple.mobilebackup2",
        "com.apple.afc",
        "com.apple.crashreportcopymobile",
    } <= services
    # Every request lockdownd received was reported, in order, through on_command.
    seen = [t for s, t in requests if s == "lockdown"]
    reported = [c.removeprefix("lockdown ") for c in commands if c.startswith("lockdown ")]

    def norm(text: str) -> str:
        text = re.sub(r"(Domain|Key|Service)=", "", text)
        return text.replace(" (with escrow bag)", " +EscrowBag")

    assert [norm(r) for r in reported] == seen
    assert not list((tmp_path / "pairing").glob("*.plist"))  # no pairing was needed or saved
