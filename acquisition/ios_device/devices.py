"""Which iPhones usbmuxd sees, and what a connected one says about itself."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymobiledevice3 import usbmux
from pymobiledevice3.exceptions import ConnectionFailedToUsbmuxdError, PyMobileDevice3Exception
from pymobiledevice3.lockdown import create_using_usbmux

from .session import run_sync, usbmux_address

DESCRIBED_KEYS = {
    "UniqueDeviceID": "udid",
    "ProductType": "product_type",
    "ProductVersion": "product_version",
    "BuildVersion": "build_version",
    "DeviceName": "device_name",
    "SerialNumber": "serial_number",
    "InternationalMobileEquipmentIdentity": "imei",
    "InternationalMobileEquipmentIdentity2": "imei2",
    "MobileEquipmentIdentifier": "meid",
    "HardwareModel": "hardware_model",
    "DeviceClass": "device_class",
}


def list_devices(address: str | None = None, *, probe: bool = True) -> list[dict[str, Any]]:
    """Every iOS device usbmuxd reports (``USBMUXD_SOCKET_ADDRESS`` honoured).

    Each: ``serial`` (the UDID), ``udid``, ``kind`` "ios", ``connection`` (USB or
    Network), and with ``probe`` the ``model`` (ProductType) and ``os`` ("iOS 17.5")
    read from lockdownd without pairing. No usbmuxd means no devices, not an error.
    """
    return run_sync(_list_devices(usbmux_address(address), probe))


async def _list_devices(address: str | None, probe: bool) -> list[dict[str, Any]]:
    try:
        found = await usbmux.list_devices(usbmux_address=address)
    except (ConnectionFailedToUsbmuxdError, OSError):
        return []
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for dev in sorted(found, key=lambda d: (d.serial, not d.is_usb)):
        if dev.serial in seen:  # a phone on USB and Wi-Fi at once: list it once
            continue
        seen.add(dev.serial)
        item: dict[str, Any] = {
            "serial": dev.serial,
            "udid": dev.serial,
            "kind": "ios",
            "connection": dev.connection_type,
            "model": None,
            "os": None,
        }
        if probe:
            item.update(await _probe(dev.serial, address))
        out.append(item)
    return out


async def _probe(udid: str, address: str | None) -> dict[str, Any]:
    """Model and OS version: lockdownd answers GetValue before pairing."""
    with tempfile.TemporaryDirectory(prefix="vmf-pairing-") as tmp:
        try:
            client = await create_using_usbmux(
                serial=udid,
                autopair=False,
                pairing_records_cache_folder=Path(tmp),
                usbmux_address=address,
            )
        except (PyMobileDevice3Exception, OSError):
            return {}
        try:
            values = client.all_values or {}
        finally:
            await client.close()
    version = values.get("ProductVersion")
    return {
        "model": values.get("ProductType"),
        "os": f"iOS {version}" if version else None,
        "name": values.get("DeviceName"),
    }


async def describe(client: Any) -> dict[str, Any]:
    """Identifiers and facts for case.json, from the paired lockdown client's values."""
    values: dict[str, Any] = dict(client.all_values or {})
    out: dict[str, Any] = {"kind": "ios-device"}
    for key, name in DESCRIBED_KEYS.items():
        if values.get(key) is not None:
            out[name] = values[key]
    try:
        out["will_encrypt"] = bool(await client.get_value("com.apple.mobile.backup", "WillEncrypt"))
    except PyMobileDevice3Exception:
        out["will_encrypt"] = None
    out["encrypted"] = out["will_encrypt"]
    device_time = values.get("TimeIntervalSince1970")
    host_time = time.time()
    if isinstance(device_time, int | float):
        out["device_clock_utc"] = _iso(float(device_time))
        out["host_clock_utc"] = _iso(host_time)
        out["clock_offset_seconds"] = round(float(device_time) - host_time, 3) + 0.0
        out["device_clock_raw"] = device_time
    if values.get("TimeZone"):
        out["device_time_zone"] = values["TimeZone"]
    mux = getattr(getattr(client, "service", None), "mux_device", None)
    if mux is not None:
        out["connection"] = mux.connection_type
    out["passcode_set"] = values.get("PasswordProtected")
    return out


def _iso(seconds: float) -> str:
    return (
        datetime.fromtimestamp(seconds, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
