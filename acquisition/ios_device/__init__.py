"""Live acquisition from an iPhone over usbmux and lockdown (pymobiledevice3).

``list_devices()`` for the device list, :class:`IosDeviceSource` for an acquisition.
Nothing here can change the phone beyond what a backup needs (see ``source``).
"""

from acquisition.ios_device.devices import list_devices
from acquisition.ios_device.session import usbmux_address
from acquisition.ios_device.source import IosDeviceSource

__all__ = ["IosDeviceSource", "list_devices", "usbmux_address"]
