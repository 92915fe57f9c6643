"""Android phones and Wear OS watches over ADB (adb-shell), as an acquisition source."""

from acquisition.android_device.discovery import list_devices
from acquisition.android_device.source import (
    PROFILES,
    VOICEMAIL_PACKAGES,
    AndroidDeviceSource,
)

__all__ = ["PROFILES", "VOICEMAIL_PACKAGES", "AndroidDeviceSource", "list_devices"]
