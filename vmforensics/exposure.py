"""Where a copy lives, from its evidence path: exposure and owning package.

Exposure is a property of the location on the device (shared storage is readable by
other apps and over USB; an app cache by the app alone, but it is also left behind),
not of how we acquired it; whether it came through a backup is in case.json.
"""

from __future__ import annotations

import re

from parsers.apps import package_of

PLATFORM_STORES = (
    "data/data/com.android.providers.contacts/",
    "data/data/com.samsung.android.providers.contacts/",
    "data/user_de/0/com.android.providers.contacts/",
    "HomeDomain/Library/Voicemail/",
    "private/var/mobile/Library/Voicemail/",
    "var/mobile/Library/Voicemail/",
)
SHARED = ("sdcard/", "storage/", "data/media/", "mnt/sdcard/", "MediaDomain/", "afc/")
COMPANION_PACKAGES = (
    "com.google.android.wearable.app",
    "com.google.android.apps.wear.companion",
    "com.samsung.android.app.watchmanager",
    "com.samsung.android.waterplugin",
    "com.samsung.android.geargplugin",
    "com.apple.NanoPhone",
    "com.apple.Bridge",
)
_SPOOL = re.compile(
    r"(^|/)(var/spool/asterisk/|etc/asterisk/|voicemail/[^/]+/[^/]+/"
    r"(INBOX|Old|Urgent|Deleted|Work|Family|Friends|Cust[1-5]|tmp)/)"
    r"|(^|/)[^/]+/[^/]+/(INBOX|Old|Urgent|Deleted|Work|Family|Friends|Cust[1-5])/msg\d{4}\."
)
_LOGS = re.compile(
    r"(^|/)(crash/|CrashReporter/|tombstones/|anr/|dropbox/|bugreport)"
    r"|\.(ips|crash|panic)$|logcat"
)
_CACHE = re.compile(
    r"^(data/data|data/user_de/\d+)/[^/]+/(cache|code_cache)/"
    r"|^AppDomain[^/]*/(Library/Caches|tmp)/"
)


def exposure_of(path: str, source_kind: str = "") -> str:
    if source_kind == "raw-image":
        return "unknown"
    if _LOGS.search(path):
        return "log-or-crash"
    if _SPOOL.search(path):
        return "server-spool"
    if path.startswith(PLATFORM_STORES):
        return "platform-store"
    if path.startswith(SHARED):
        return "shared-storage"
    pkg = package_of(path)
    if pkg in COMPANION_PACKAGES or path.startswith("companion/"):
        return "companion"
    if _CACHE.match(path):
        return "app-cache"
    if pkg:
        return "app-sandbox"
    if path.startswith("HomeDomain/"):
        return "platform-store" if "/Voicemail/" in path else "app-sandbox"
    return "unknown"
