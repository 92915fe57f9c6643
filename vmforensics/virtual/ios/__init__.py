"""A virtual iPhone: fake usbmuxd + lockdownd + AFC, house_arrest, crash reports, backup.

It serves an iOS backup folder as the phone's content so that every client, ours and
libimobiledevice's, can be exercised with no phone attached (``vmforensics simulate ios``).
"""

from .device import VirtualIosDevice, run_forever

__all__ = ["VirtualIosDevice", "run_forever"]
