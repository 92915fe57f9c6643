"""Which app owns a path, and which apps are voicemail apps, in one place.

Carrier and OEM visual-voicemail apps keep audio in undocumented places; these lists let
the carrier parser, the weak-protection pass and the application's exposure rules
recognise their folders by package name (voicemail-artifacts.md §2.2–2.6).
"""

from __future__ import annotations

import re

_PKG = re.compile(
    r"^(?:data/data/|data/user/\d+/|data/user_de/\d+/|sdcard/Android/(?:data|obb|media)/"
    r"|storage/emulated/\d+/Android/(?:data|obb|media)/|data/app/)([A-Za-z0-9_.]+?)(?:-[^/]*)?/"
    r"|^AppDomain(?:Group|Plugin)?-([^/]+)/|^containers/([^/]+)/"
)


def package_of(path: str) -> str | None:
    """The Android package or iOS bundle id whose storage holds this evidence path."""
    m = _PKG.match(path)
    if not m:
        return None
    return next(g for g in m.groups() if g)


# Carrier and OEM visual-voicemail clients; a trailing ".*" names a family of packages.
CARRIER_VVM = (
    "com.att.mobile.android.vvm",
    "com.att.visualvoicemail",
    "com.samsung.vvm",
    "com.samsung.attvvm",
    "com.tmobile.vvm.application",
    "com.vzw.visualvoicemail",
    "com.metropcs.service.vvm",
    "com.mizmowireless.vvm",
    "com.vna.service.vvm",
    "com.dish.vvm",
    "com.comcast.modesto.vvm.client",
    "com.smithmicro.vvm.omtp.*",
)

# Every app whose storage is a voicemail location: dialers, the phone process, carrier
# clients and Google Voice.
VOICEMAIL_APPS = (
    "com.google.android.dialer",
    "com.android.dialer",
    "com.android.phone",
    *CARRIER_VVM,
    "com.google.android.apps.googlevoice",
)


def is_voicemail_app(package: str) -> bool:
    return any(
        package.startswith(p[:-1]) if p.endswith(".*") else package == p for p in VOICEMAIL_APPS
    )
