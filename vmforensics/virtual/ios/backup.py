"""The device side of mobilebackup2 (DeviceLink), playing back the image's backup folder.

The device drives a backup: after the version exchanges and the host's ``Backup`` request
it creates the payload folders on the host, uploads every file of the image's folder in
batches (``DLMessageUploadFiles``), and ends with a ``Response``. Files are streamed in
64 KiB blocks straight from the image, so a large backup never sits in memory. Anything
but a backup (restore, erase, change of password, ...) is refused and recorded.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from .channel import Channel
from .image import IosImage

EMPTY = "___EmptyParameterString___"
CHUNK = 64 * 1024
BATCH_BYTES = 4 * 1024 * 1024
BATCH_FILES = 4
CODE_DATA = 0x0C
CODE_SUCCESS = 0x00


class BackupServer:
    def __init__(self, channel: Channel, image: IosImage, record: Callable[[str], None]) -> None:
        self.ch = channel
        self.image = image
        self.record = record

    async def serve(self) -> None:
        try:
            await self.ch.send_plist(["DLMessageVersionExchange", 300, 0])
            reply = await self.ch.recv_plist()
            if not (
                isinstance(reply, list)
                and reply[:2] == ["DLMessageVersionExchange", "DLVersionsOk"]
            ):
                self.record(f"bad version exchange {reply!r:.80}")
                return
            await self.ch.send_plist(["DLMessageDeviceReady"])
            while True:
                message = await self.ch.recv_plist()
                if not isinstance(message, list) or not message:
                    return
                if message[0] == "DLMessageDisconnect":
                    self.record("DLMessageDisconnect")
                    return
                if message[0] != "DLMessageProcessMessage" or len(message) < 2:
                    self.record(f"unexpected {message[0]!r:.60}")
                    continue
                body = message[1] if isinstance(message[1], dict) else {}
                name = str(body.get("MessageName", ""))
                self.record(name)
                if name == "Hello":
                    await self.process_reply({"ErrorCode": 0, "ProtocolVersion": 2.1})
                elif name == "Backup":
                    target = body.get("TargetIdentifier")
                    if target and str(target).lower() != self.image.udid.lower():
                        await self.process_reply(
                            {"ErrorCode": 2, "ErrorDescription": "Unknown target identifier"}
                        )
                        continue
                    await self.backup()
                else:
                    await self.process_reply(
                        {
                            "ErrorCode": 1,
                            "ErrorDescription": f"{name} refused: this virtual device is read-only",
                        }
                    )
        except EOFError:
            return

    async def process_reply(self, content: dict[str, object]) -> None:
        await self.ch.send_plist(
            ["DLMessageProcessMessage", {"MessageName": "Response", **content}]
        )

    async def status_ok(self) -> None:
        reply = await self.ch.recv_plist()
        if not (isinstance(reply, list) and reply and reply[0] == "DLMessageStatusResponse"):
            raise EOFError(f"expected a status response, got {reply!r:.80}")

    async def backup(self) -> None:
        udid = self.image.udid
        files = self.image.backup_files()
        total = sum(_size(src) for _name, src, _dev in files) or 1
        folders = sorted({str(PurePosixPath(name).parent) for name, _s, _d in files} - {"."})
        await self.ch.send_plist(["DLMessageCreateDirectory", udid, 0.0, EMPTY])
        await self.status_ok()
        for folder in folders:
            await self.ch.send_plist(["DLMessageCreateDirectory", f"{udid}/{folder}", 0.0, EMPTY])
            await self.status_ok()
        sent = 0
        batch: list[tuple[str, Path | bytes, str]] = []
        batch_bytes = 0
        for item in files:
            batch.append(item)
            batch_bytes += _size(item[1])
            if len(batch) >= BATCH_FILES or batch_bytes >= BATCH_BYTES:
                sent = await self.upload(batch, sent, total)
                batch, batch_bytes = [], 0
        if batch:
            sent = await self.upload(batch, sent, total)
        self.record(f"backup sent {len(files)} files")
        await self.process_reply({"ErrorCode": 0})

    async def upload(
        self, batch: list[tuple[str, Path | bytes, str]], sent: int, total: int
    ) -> int:
        progress = round(100.0 * sent / total, 2)
        await self.ch.send_plist(["DLMessageUploadFiles", {}, progress, EMPTY])
        udid = self.image.udid
        for name, src, device_name in batch:
            await self._prefixed((device_name or name).encode())
            await self._prefixed(f"{udid}/{name}".encode())
            if isinstance(src, bytes):
                for i in range(0, len(src), CHUNK):
                    await self._block(CODE_DATA, src[i : i + CHUNK])
            else:
                with open(src, "rb") as fh:
                    while chunk := fh.read(CHUNK):
                        await self._block(CODE_DATA, chunk)
            await self._block(CODE_SUCCESS, b"")
            sent += _size(src)
        await self.ch.write(struct.pack(">I", 0))
        await self.status_ok()
        return sent

    async def _prefixed(self, data: bytes) -> None:
        await self.ch.write(struct.pack(">I", len(data)) + data)

    async def _block(self, code: int, data: bytes) -> None:
        await self.ch.write(struct.pack(">IB", len(data) + 1, code) + data)


def _size(src: Path | bytes) -> int:
    if isinstance(src, bytes):
        return len(src)
    try:
        return src.stat().st_size
    except OSError:
        return 0
