"""Android phones and Wear OS watches over ADB (adb-shell), as an acquisition source.

Usage (the application wires the callbacks to its custody log and progress display)::

    src = AndroidDeviceSource(
        "192.168.1.20:5555",            # HOST:PORT, a USB serial, usb:SERIAL or adb:SERIAL
        workdir=case / "tmp" / "S1",    # spool for pulled bytes; nothing is written elsewhere
        key_dir=default_key_dir(),      # the host's ADB key (created when absent)
        profile="voicemail",            # or "full"
        password=None,                  # what the user typed on the phone for adb backup
        on_command=custody_record,      # every command, before it is sent
        on_progress=show,               # (what, bytes done, total or None)
        on_prompt=tell_the_operator,    # "tap Allow", "confirm the backup on screen", ...
    )
    with src:                           # open(): connect, describe; SourceUnavailable if not
        for item in src.entries():      # Entry (path like a file-system extraction) | Problem
            ...
        src.describe()                  # serial, model, versions, clock offset, complete...
        src.complete                    # False when the device went away mid-acquisition
"""

from acquisition.android_device.discovery import default_key_dir, list_devices
from acquisition.android_device.source import (
    PROFILES,
    VOICEMAIL_PACKAGES,
    AndroidDeviceSource,
)

__all__ = [
    "PROFILES",
    "VOICEMAIL_PACKAGES",
    "AndroidDeviceSource",
    "default_key_dir",
    "list_devices",
]
