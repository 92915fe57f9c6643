"""One device-side connection: framing helpers and the "drop mid-transfer" switch.

``fail_after_bytes`` models the cable being pulled: once the device has sent that many
bytes on the chosen service, the connection is cut where it stands (possibly in the middle
of a frame) and the device detaches from usbmuxd.
"""

from __future__ import annotations

import asyncio
import plistlib
import struct
from typing import Any, Protocol


class Dropped(Exception):
    """The virtual cable was pulled; the connection is gone."""


class Budget(Protocol):
    def take(self, service: str, n: int) -> int:
        """How many of ``n`` bytes may still go out on ``service`` (less means drop after)."""
        ...

    def drop(self) -> None: ...


MAX_PLIST = 16 * 1024 * 1024


class Channel:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        service: str,
        budget: Budget,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.service = service
        self.budget = budget
        self.closed = False

    async def read_exactly(self, n: int) -> bytes:
        try:
            return await self.reader.readexactly(n)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise EOFError(str(exc)) from exc

    async def write(self, data: bytes) -> None:
        if self.closed:
            raise Dropped(self.service)
        allowed = self.budget.take(self.service, len(data))
        if allowed < len(data):
            if allowed:
                self.writer.write(data[:allowed])
                try:
                    await self.writer.drain()
                except ConnectionError:
                    pass
            self.budget.drop()
            self.close()
            raise Dropped(self.service)
        self.writer.write(data)
        try:
            await self.writer.drain()
        except ConnectionError as exc:
            raise EOFError(str(exc)) from exc

    async def recv_plist(self) -> Any:
        (size,) = struct.unpack(">I", await self.read_exactly(4))
        if size > MAX_PLIST:
            raise EOFError(f"plist frame of {size} bytes refused")
        return plistlib.loads(await self.read_exactly(size))

    async def send_plist(self, value: Any, fmt: plistlib.PlistFormat = plistlib.FMT_XML) -> None:
        payload = plistlib.dumps(value, fmt=fmt)
        await self.write(struct.pack(">I", len(payload)) + payload)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.writer.close()
            except Exception:
                pass
