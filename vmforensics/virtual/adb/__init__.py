"""A virtual Android phone reachable over ADB on loopback TCP."""

from vmforensics.virtual.adb.image import DeviceImage, ImageError
from vmforensics.virtual.adb.server import VirtualAdbDevice, run_forever

__all__ = ["DeviceImage", "ImageError", "VirtualAdbDevice", "run_forever"]
