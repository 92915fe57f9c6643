"""The voicemail apps the reference names (voicemail-artifacts.md §2.2–2.6), in one place.

Carrier and OEM visual-voicemail apps keep audio in undocumented places; these lists let
the carrier parser and the weak-protection pass recognise their folders by package name.
"""

from __future__ import annotations

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
