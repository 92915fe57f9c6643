"""Profiles of companion and wearable sync folders: what a folder is, by what it holds.

Watches and their phone or PC companions keep copies of voicemail in places no phone
path list knows (the Apple Watch receives AMR bodies keyed by the message's remote UID;
Galaxy Wearable and Wear OS companions mirror phone data; PC sync tools keep whole
phone backups). A folder recognised by a profile keeps its own paths under
``companion/<profile>/`` so every copy in it is judged as a companion copy.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class CompanionProfile:
    name: str
    description: str
    markers: tuple[str, ...]  # fnmatch patterns over the folder's relative paths
    minimum: int = 1  # how many markers must match
    excludes: tuple[str, ...] = ()  # a listing matching any of these is not this profile


PROFILES: tuple[CompanionProfile, ...] = (
    CompanionProfile(
        "apple-watch",
        "Apple Watch file system or sync cache (NanoPhone voicemail sync)",
        (
            "*Library/NanoPhone*",
            "*com.apple.NanoPhone*",
            "*nanophone*voicemail*",
            "*Library/Voicemail/*.amr",
            "*DeviceRegistry*",
        ),
        minimum=2,
    ),
    CompanionProfile(
        "galaxy-wearable",
        "Samsung Galaxy Wearable / Watch Manager companion data",
        (
            "*com.samsung.android.app.watchmanager*",
            "*com.samsung.android.waterplugin*",
            "*com.samsung.android.geargplugin*",
            "*com.samsung.android.*plugin*",
            "*GalaxyWearable*",
            "*Gear*Manager*",
        ),
    ),
    CompanionProfile(
        "wear-os",
        "Wear OS watch or its phone companion (Pixel Watch, Wear OS by Google)",
        (
            "*com.google.android.wearable.app*",
            "*com.google.android.apps.wear.companion*",
            "*com.google.android.apps.wearables.maestro.companion*",
            "*clockwork*",
        ),
    ),
    CompanionProfile(
        "smart-switch",
        "Samsung Smart Switch PC backup folder",
        ("*SmartSwitch*", "*.bk", "*SmartSwitchBackup*", "*/CALLLOG/*", "*/VOICEMAIL/*"),
        minimum=2,
    ),
    CompanionProfile(
        "pc-sync",
        "PC or cloud sync folder holding voicemail exports",
        (
            "*Voicemail*/*.amr",
            "*Voicemail*/*.m4a",
            "*Voicemail*/*.wav",
            "*Voicemail*/*.mp3",
            "*voicemail*/*.amr",
            "*voicemail*/*.m4a",
            "*voicemail*/*.wav",
            "*voicemail*/*.mp3",
        ),
        excludes=("*Library/Voicemail/*", "*voicemail.db*", "*app_voicemail-data*"),
    ),
)


def match(paths: Iterable[str]) -> CompanionProfile | None:
    """The first profile enough of whose markers the (bounded) listing matches."""
    names = list(paths)
    for profile in PROFILES:
        if any(fnmatch.fnmatch(n, x) for x in profile.excludes for n in names):
            continue
        hits = sum(
            1 for marker in profile.markers if any(fnmatch.fnmatch(n, marker) for n in names)
        )
        if hits >= profile.minimum:
            return profile
    return None


def prefix(profile: CompanionProfile) -> str:
    return f"companion/{profile.name}"
