"""The small lockdown services a backup or a collector touches on the way.

Each serves one connection, as on the phone. They answer what clients ask during an
acquisition and record every command, including the ones a read-only device refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .afc import AfcServer
from .channel import Channel
from .tree import Tree

Record = Callable[[str], None]


async def notification_proxy(ch: Channel, record: Record) -> None:
    """Swallow posts and observations; answer Shutdown with ProxyDeath (libimobiledevice waits)."""
    try:
        while True:
            msg = await ch.recv_plist()
            if not isinstance(msg, dict):
                return
            command = str(msg.get("Command", ""))
            record(f"{command} {msg.get('Name', '')}".rstrip())
            if command == "Shutdown":
                await ch.send_plist({"Command": "ProxyDeath"})
                return
    except EOFError:
        return


async def installation_proxy(ch: Channel, record: Record, apps: list[str]) -> None:
    try:
        while True:
            msg = await ch.recv_plist()
            if not isinstance(msg, dict):
                return
            command = str(msg.get("Command", ""))
            record(command)
            if command == "Browse":
                current = [_app_info(bundle) for bundle in apps]
                if current:
                    await ch.send_plist(
                        {
                            "CurrentAmount": len(current),
                            "CurrentIndex": 0,
                            "CurrentList": current,
                            "Status": "BrowsingApplications",
                        }
                    )
                await ch.send_plist({"Status": "Complete"})
            elif command == "Lookup":
                wanted = (msg.get("ClientOptions") or {}).get("BundleIDs") or apps
                result = {b: _app_info(b) for b in wanted if b in apps}
                await ch.send_plist({"LookupResult": result, "Status": "Complete"})
            else:
                await ch.send_plist({"Error": "NotAllowed", "Status": "Complete"})
    except EOFError:
        return


def _app_info(bundle: str) -> dict[str, Any]:
    return {
        "CFBundleIdentifier": bundle,
        "ApplicationType": "User",
        "CFBundleDisplayName": bundle.rsplit(".", 1)[-1],
        "CFBundleVersion": "1",
        "CFBundleShortVersionString": "1.0",
        "UIFileSharingEnabled": True,
    }


async def springboard(ch: Channel, record: Record) -> None:
    try:
        while True:
            msg = await ch.recv_plist()
            if not isinstance(msg, dict):
                return
            command = str(msg.get("command", ""))
            record(command)
            if command in ("getIconPNGData", "getHomeScreenWallpaperPNGData"):
                await ch.send_plist({"pngData": b""})
            elif command == "getInterfaceOrientation":
                await ch.send_plist({"interfaceOrientation": 1})
            else:
                await ch.send_plist({})
    except EOFError:
        return


async def crash_mover(ch: Channel, record: Record) -> None:
    record("ping")
    try:
        await ch.write(b"ping\x00")
    except EOFError:
        return


async def house_arrest(
    ch: Channel,
    record: Record,
    containers: dict[str, Tree] | None,
    model: str,
) -> None:
    """Vend an app container; ``containers`` None means the device cannot look installs up."""
    try:
        msg = await ch.recv_plist()
    except EOFError:
        return
    if not isinstance(msg, dict):
        return
    command = str(msg.get("Command", ""))
    bundle = str(msg.get("Identifier", ""))
    record(f"{command} {bundle}")
    if command not in ("VendContainer", "VendDocuments"):
        await ch.send_plist({"Error": "UnknownCommand"})
        return
    if containers is None:
        await ch.send_plist({"Error": "InstallationLookupFailed"})
        return
    tree = containers.get(bundle)
    if tree is None:
        await ch.send_plist({"Error": "ApplicationLookupFailed"})
        return
    if command == "VendDocuments":
        docs = Tree()
        node = tree.lookup("Documents")
        if node is not None and node.kind == "dir":
            docs.root.children["Documents"] = node
        else:
            docs.mkdirs(["Documents"])
        tree = docs
    await ch.send_plist({"Status": "Complete"})
    await AfcServer(ch, tree, lambda text: record(f"afc {text}"), model=model).serve()
