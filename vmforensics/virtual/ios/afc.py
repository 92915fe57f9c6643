"""A read-only AFC server over a :class:`~.tree.Tree`.

Every operation that would change the phone is answered with PERM_DENIED and recorded, so
a test can prove that a client never asked for one. The single exception AFC clients need
for a backup is opening ``/com.apple.itunes.lock_sync`` in ``r+`` mode and locking it (the
sync lock iTunes takes); that file is virtual and nothing written to it is kept.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import BinaryIO

from .channel import Channel
from .tree import Node, Tree, split

MAGIC = b"CFA6LPAA"
HEADER = struct.Struct("<8sQQQQ")

OP_STATUS = 0x01
OP_DATA = 0x02
OP_READ_DIR = 0x03
OP_GET_FILE_INFO = 0x0A
OP_GET_DEVINFO = 0x0B
OP_FILE_OPEN = 0x0D
OP_FILE_OPEN_RES = 0x0E
OP_READ = 0x0F
OP_FILE_SEEK = 0x11
OP_FILE_TELL = 0x12
OP_FILE_TELL_RES = 0x13
OP_FILE_CLOSE = 0x14
OP_GET_CON_INFO = 0x16
OP_SET_CON_OPTIONS = 0x17
OP_FILE_LOCK = 0x1B

NAMES = {
    0x03: "READ_DIR",
    0x04: "READ_FILE",
    0x05: "WRITE_FILE",
    0x06: "WRITE_PART",
    0x07: "TRUNCATE",
    0x08: "REMOVE_PATH",
    0x09: "MAKE_DIR",
    0x0A: "GET_FILE_INFO",
    0x0B: "GET_DEVINFO",
    0x0C: "WRITE_FILE_ATOM",
    0x0D: "FILE_OPEN",
    0x0F: "READ",
    0x10: "WRITE",
    0x11: "FILE_SEEK",
    0x12: "FILE_TELL",
    0x14: "FILE_CLOSE",
    0x15: "FILE_SET_SIZE",
    0x16: "GET_CON_INFO",
    0x17: "SET_CON_OPTIONS",
    0x18: "RENAME_PATH",
    0x19: "SET_FS_BS",
    0x1A: "SET_SOCKET_BS",
    0x1B: "FILE_LOCK",
    0x1C: "MAKE_LINK",
    0x1E: "SET_FILE_TIME",
}

E_SUCCESS = 0
E_UNKNOWN_PACKET_TYPE = 6
E_INVALID_ARG = 7
E_OBJECT_NOT_FOUND = 8
E_OBJECT_IS_DIR = 9
E_PERM_DENIED = 10
E_OP_NOT_SUPPORTED = 15

MODES = {1: "r", 2: "r+", 3: "w", 4: "w+", 5: "a", 6: "a+"}
MAX_READ = 8 * 1024 * 1024
MAX_REQUEST = 64 * 1024 * 1024
LOCK_FILE = "com.apple.itunes.lock_sync"


def _cstring(data: bytes, start: int = 0) -> str:
    end = data.find(b"\x00", start)
    raw = data[start:] if end < 0 else data[start:end]
    return raw.decode("utf-8", errors="replace")


def _kv(pairs: dict[str, str | int]) -> bytes:
    return b"".join(f"{k}\x00{v}\x00".encode() for k, v in pairs.items())


class AfcServer:
    def __init__(
        self,
        channel: Channel,
        tree: Tree,
        record: Callable[[str], None],
        *,
        model: str = "iPhone12,1",
    ) -> None:
        self.ch = channel
        self.tree = tree
        self.record = record
        self.model = model
        self.handles: dict[int, tuple[Node, BinaryIO | None, str]] = {}
        self.next_handle = 1

    async def serve(self) -> None:
        try:
            while True:
                head = await self.ch.read_exactly(HEADER.size)
                magic, entire, _this, num, op = HEADER.unpack(head)
                if magic != MAGIC or entire < HEADER.size or entire > MAX_REQUEST:
                    return
                payload = await self.ch.read_exactly(entire - HEADER.size)
                await self.handle(op, num, payload)
        except EOFError:
            return
        finally:
            for _node, stream, _path in self.handles.values():
                if stream is not None:
                    stream.close()
            self.handles.clear()

    async def reply(self, num: int, op: int, payload: bytes) -> None:
        length = HEADER.size + len(payload)
        await self.ch.write(HEADER.pack(MAGIC, length, length, num, op) + payload)

    async def status(self, num: int, code: int) -> None:
        await self.reply(num, OP_STATUS, struct.pack("<Q", code))

    async def handle(self, op: int, num: int, payload: bytes) -> None:
        name = NAMES.get(op, f"OP_{op:#x}")
        if op == OP_READ_DIR:
            path = _cstring(payload)
            self.record(f"{name} {path}")
            node = self.tree.lookup(path)
            if node is None:
                return await self.status(num, E_OBJECT_NOT_FOUND)
            if node.kind != "dir":
                return await self.status(num, E_INVALID_ARG)
            names = [".", "..", *sorted(node.children)]
            return await self.reply(num, OP_DATA, b"".join(n.encode() + b"\x00" for n in names))
        if op == OP_GET_FILE_INFO:
            path = _cstring(payload)
            self.record(f"{name} {path}")
            node = self.tree.lookup(path)
            if node is None:
                return await self.status(num, E_OBJECT_NOT_FOUND)
            return await self.reply(num, OP_DATA, _kv(self._stat(node)))
        if op == OP_GET_DEVINFO:
            self.record(name)
            info: dict[str, str | int] = {
                "Model": self.model,
                "FSTotalBytes": 64 * 1024**3,
                "FSFreeBytes": 32 * 1024**3,
                "FSBlockSize": 4096,
            }
            return await self.reply(num, OP_DATA, _kv(info))
        if op == OP_FILE_OPEN:
            return await self._open(num, payload)
        if op == OP_READ:
            return await self._read(num, payload)
        if op == OP_FILE_CLOSE:
            (handle,) = struct.unpack_from("<Q", payload.ljust(8, b"\x00"))
            self.record(f"{name} {handle}")
            entry = self.handles.pop(handle, None)
            if entry is None:
                return await self.status(num, E_INVALID_ARG)
            if entry[1] is not None:
                entry[1].close()
            return await self.status(num, E_SUCCESS)
        if op == OP_FILE_LOCK:
            handle, lock_op = struct.unpack_from("<QQ", payload.ljust(16, b"\x00"))
            entry = self.handles.get(handle)
            self.record(f"{name} {entry[2] if entry else handle} {lock_op}")
            return await self.status(num, E_SUCCESS if entry else E_INVALID_ARG)
        if op == OP_FILE_SEEK:
            handle, whence, offset = struct.unpack_from("<QQq", payload.ljust(24, b"\x00"))
            self.record(f"{name} {handle}")
            entry = self.handles.get(handle)
            if entry is None or entry[1] is None:
                return await self.status(num, E_INVALID_ARG)
            entry[1].seek(offset, whence if whence in (0, 1, 2) else 0)
            return await self.status(num, E_SUCCESS)
        if op == OP_FILE_TELL:
            (handle,) = struct.unpack_from("<Q", payload.ljust(8, b"\x00"))
            self.record(f"{name} {handle}")
            entry = self.handles.get(handle)
            if entry is None or entry[1] is None:
                return await self.status(num, E_INVALID_ARG)
            return await self.reply(num, OP_FILE_TELL_RES, struct.pack("<Q", entry[1].tell()))
        if op in (OP_GET_CON_INFO, OP_SET_CON_OPTIONS, 0x19, 0x1A):
            self.record(name)
            return await self.status(num, E_SUCCESS)
        # Everything else writes to the phone (or is unknown): refuse, and keep the evidence.
        detail = _cstring(payload[8:] if op == 0x1C else payload) if payload else ""
        self.record(f"{name} {detail}".rstrip())
        return await self.status(num, E_PERM_DENIED if op in NAMES else E_UNKNOWN_PACKET_TYPE)

    def _stat(self, node: Node) -> dict[str, str | int]:
        ifmt = {"dir": "S_IFDIR", "file": "S_IFREG", "link": "S_IFLNK"}[node.kind]
        size = node.size if node.kind == "file" else (len(node.children) + 2) * 34
        out: dict[str, str | int] = {
            "st_size": size,
            "st_blocks": (size + 511) // 512,
            "st_nlink": 2 + sum(1 for c in node.children.values() if c.kind == "dir")
            if node.kind == "dir"
            else 1,
            "st_ifmt": ifmt,
            "st_mtime": int(node.mtime * 1_000_000_000),
            "st_birthtime": int((node.birth or node.mtime) * 1_000_000_000),
        }
        if node.kind == "link":
            out["LinkTarget"] = node.target
        return out

    async def _open(self, num: int, payload: bytes) -> None:
        (mode,) = struct.unpack_from("<Q", payload.ljust(8, b"\x00"))
        path = _cstring(payload, 8)
        textual = MODES.get(mode, str(mode))
        self.record(f"FILE_OPEN {textual} {path}")
        parts = split(path)
        node = self.tree.lookup(path)
        if mode != 1:
            # Only the sync lock may be opened for writing; nothing is ever written to it.
            if parts == [LOCK_FILE] and mode == 2 and node is not None and node.writable:
                return await self._new_handle(num, node, None, path)
            return await self.status(num, E_PERM_DENIED)
        if node is None:
            return await self.status(num, E_OBJECT_NOT_FOUND)
        if node.kind == "dir":
            return await self.status(num, E_OBJECT_IS_DIR)
        if node.opener is None:
            return await self._new_handle(num, node, None, path)
        try:
            stream = node.opener()
        except OSError:
            return await self.status(num, E_OBJECT_NOT_FOUND)
        return await self._new_handle(num, node, stream, path)

    async def _new_handle(self, num: int, node: Node, stream: BinaryIO | None, path: str) -> None:
        handle = self.next_handle
        self.next_handle += 1
        self.handles[handle] = (node, stream, path)
        await self.reply(num, OP_FILE_OPEN_RES, struct.pack("<Q", handle))

    async def _read(self, num: int, payload: bytes) -> None:
        handle, size = struct.unpack_from("<QQ", payload.ljust(16, b"\x00"))
        entry = self.handles.get(handle)
        self.record(f"READ {entry[2] if entry else handle}")
        if entry is None:
            return await self.status(num, E_INVALID_ARG)
        stream = entry[1]
        data = stream.read(min(size, MAX_READ)) if stream is not None else b""
        await self.reply(num, OP_DATA, data)
