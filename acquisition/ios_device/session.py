"""Reaching an iPhone through usbmuxd and lockdownd, with every request reported.

pymobiledevice3 is asyncio-only; a :class:`LoopThread` gives synchronous callers (the
pipeline, the CLI) one private event loop for the life of a source, so a lockdown
connection opened in ``open()`` is still usable in ``entries()``.

The lockdown client is pymobiledevice3's own usbmux client with one change: every request
it sends to lockdownd (QueryType, GetValue, StartSession, StartService, Pair, ...) is
reported through ``on_command`` before it is sent. Only the request name and its
domain, key or service are reported; pair records, escrow bags and session ids never are.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import plistlib
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from pymobiledevice3 import usbmux
from pymobiledevice3.exceptions import (
    ConnectionFailedToUsbmuxdError,
    DeviceNotFoundError,
    MuxException,
    NoDeviceConnectedError,
    PyMobileDevice3Exception,
)
from pymobiledevice3.lockdown import (
    SERVICE_PORT,
    SYSTEM_BUID,
    PlistUsbmuxLockdownClient,
    UsbmuxLockdownClient,
    generate_host_id,
)
from pymobiledevice3.service_connection import ServiceConnection

from acquisition.errors import SourceUnavailable

T = TypeVar("T")
logger = logging.getLogger(__name__)
Report = Callable[[str], None]

DEFAULT_PAIR_TIMEOUT = 120.0


def usbmux_address(value: str | None = None) -> str | None:
    """The usbmuxd address pymobiledevice3 understands, from a value or the environment.

    libusbmuxd spells a unix socket ``UNIX:/path`` in ``USBMUXD_SOCKET_ADDRESS``;
    pymobiledevice3 wants the bare path (and ``HOST:PORT`` for TCP). Both spellings are
    accepted here so one exported value serves both client libraries.
    """
    if value is None:
        value = os.environ.get("USBMUXD_SOCKET_ADDRESS") or None
    if value is None:
        return None
    if value.upper().startswith("UNIX:"):
        return value[5:]
    return value


def describe_request(request: str, options: dict[str, Any] | None) -> str:
    options = options or {}
    parts = ["lockdown", request]
    for key in ("Domain", "Key", "Service"):
        value = options.get(key)
        if isinstance(value, str) and value:
            parts.append(f"{key}={value}")
    if "EscrowBag" in options:
        parts.append("(with escrow bag)")
    return " ".join(parts)


class _Reporting:
    """Mixin: report each lockdown request before sending it."""

    on_command: Report = staticmethod(lambda text: None)

    async def _request(
        self, request: str, options: dict[str, Any] | None = None, verify_request: bool = True
    ) -> dict[str, Any]:
        self.on_command(describe_request(request, options))
        return await super()._request(request, options, verify_request)  # type: ignore[misc]


class ReportingUsbmuxClient(_Reporting, UsbmuxLockdownClient):
    pass


class ReportingPlistUsbmuxClient(_Reporting, PlistUsbmuxLockdownClient):
    async def save_pair_record(self) -> None:
        """Save to the cache folder and to usbmuxd, at *our* usbmuxd address.

        pymobiledevice3's version reaches usbmuxd through the environment only, which
        breaks on libusbmuxd's ``UNIX:`` spelling and ignores an explicit address.
        """
        await UsbmuxLockdownClient.save_pair_record(self)
        if self.pair_record is None or self.identifier is None:
            return
        data = plistlib.dumps(self.pair_record)
        self.on_command("usbmuxd SavePairRecord")
        async with await usbmux.create_mux(usbmux_address=self.usbmux_address) as mux:
            device = self.service.mux_device
            if isinstance(mux, usbmux.PlistMuxConnection) and device is not None:
                await mux.save_pair_record(self.identifier, device.devid, data)


def _quiet_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Log leftovers (a dropped phone leaves pymobiledevice3 futures failed) without a traceback.

    The default handler formats a traceback, and on CPython 3.11 formatting one parses
    source with ``ast`` in this thread, racing any ``compile`` in the main thread
    ("AST constructor recursion depth mismatch"). The failures are already reported.
    """
    exc = context.get("exception")
    logger.debug("%s%s", context.get("message", "asyncio"), f": {exc!r}" if exc else "")


class LoopThread:
    """One private asyncio loop on a daemon thread; ``run(coro)`` blocks for its result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(_quiet_exception_handler)
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="ios-device", daemon=True
        )
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float | None = None) -> T:
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(
            coro,  # type: ignore[arg-type]
            self.loop,
        )
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def run_sync(coro: Awaitable[T]) -> T:
    """Run a coroutine to completion from synchronous code, even inside a running loop (TUI)."""
    runner = LoopThread()
    try:
        return runner.run(coro)
    finally:
        runner.close()


async def connect(
    udid: str,
    *,
    pairing_dir: Path,
    on_command: Report,
    on_prompt: Report,
    address: str | None = None,
    pair_record: dict[str, Any] | None = None,
    pair_timeout: float | None = DEFAULT_PAIR_TIMEOUT,
) -> UsbmuxLockdownClient:
    """A paired lockdown client for ``udid``; asks the user to tap Trust when needed.

    Raises :class:`SourceUnavailable` when usbmuxd or the phone cannot be reached, or the
    phone does not trust this computer (the message says what the user must do).
    """
    address = usbmux_address(address)
    on_command(f"usbmuxd Connect {udid} port {SERVICE_PORT}")
    try:
        service = await ServiceConnection.create_using_usbmux(
            udid, SERVICE_PORT, usbmux_address=address
        )
    except ConnectionFailedToUsbmuxdError:
        raise SourceUnavailable(
            f"{udid}: usbmuxd is not running or not reachable"
            + (f" at {address}" if address else "")
            + " (install and start usbmuxd, or set USBMUXD_SOCKET_ADDRESS)"
        ) from None
    except (DeviceNotFoundError, NoDeviceConnectedError):
        raise SourceUnavailable(f"{udid}: no such iOS device is connected") from None
    except (MuxException, OSError) as exc:
        raise SourceUnavailable(f"{udid}: cannot connect through usbmuxd ({exc})") from None
    try:
        cls: type[UsbmuxLockdownClient] = ReportingUsbmuxClient
        system_buid = SYSTEM_BUID
        async with await usbmux.create_mux(usbmux_address=address) as mux:
            if isinstance(mux, usbmux.PlistMuxConnection):
                system_buid = await mux.get_buid()
                cls = ReportingPlistUsbmuxClient
        pairing_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        client = cls(
            service,
            host_id=generate_host_id(None),
            identifier=udid,
            system_buid=system_buid,
            pair_record=pair_record,
            pairing_records_cache_folder=pairing_dir,
            port=SERVICE_PORT,
            usbmux_address=address,
        )
        client.on_command = on_command  # type: ignore[attr-defined]
        await client._initialize()
        if not await client.validate_pairing():
            on_prompt(
                "The iPhone does not trust this computer yet: unlock it, tap Trust and enter "
                "the passcode when asked."
            )
            try:
                await client.pair(timeout=pair_timeout)
                paired = await client.validate_pairing()
            except PyMobileDevice3Exception as exc:
                raise SourceUnavailable(
                    f"{udid}: the iPhone did not accept pairing ({type(exc).__name__}); unlock "
                    "it, tap Trust on the 'Trust This Computer?' prompt, then try again"
                ) from None
            if not paired:
                raise SourceUnavailable(f"{udid}: pairing did not give a usable session")
    except SourceUnavailable:
        await service.close()
        raise
    except (PyMobileDevice3Exception, OSError, asyncio.IncompleteReadError) as exc:
        await service.close()
        raise SourceUnavailable(f"{udid}: lockdown failed ({type(exc).__name__}: {exc})") from None
    return client
