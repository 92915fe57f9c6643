"""A loopback adbd: the ADB transport, auth, streams, shell/exec, sync and backup.

One thread reads packets from each client and routes them to per-stream queues; every
opened service runs in its own thread and waits for the client's OKAY after each WRTE,
as adbd does without ``delayed_ack``. The banner advertises no features, so both adb-shell
and the official client use shell v1 and sync v1.

Everything a client asks for is appended to :attr:`VirtualAdbDevice.requests`, so tests
can prove what an acquisition sent to the phone.
"""

from __future__ import annotations

import os
import queue
import shlex
import signal
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from vmforensics.virtual.adb import protocol as p
from vmforensics.virtual.adb.backup import backup_stream
from vmforensics.virtual.adb.image import DeviceImage
from vmforensics.virtual.adb.shell import SHELL, Shell

_WAIT_S = 30.0  # longest a stream waits for the client before giving up
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


class _Closed(Exception):
    """The client closed the stream or the connection went away."""


class _Dropped(Exception):
    """The simulated unplug: the connection is cut on purpose."""


class _Stream:
    def __init__(self, conn: _Connection, local_id: int, remote_id: int, service: str) -> None:
        self.conn = conn
        self.local_id = local_id
        self.remote_id = remote_id
        self.service = service
        self.events: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.inbuf = bytearray()
        self.open = True

    def _next(self) -> tuple[str, bytes]:
        try:
            kind, data = self.events.get(timeout=_WAIT_S)
        except queue.Empty:
            raise _Closed from None
        if kind == "CLSE":
            raise _Closed
        return kind, data

    def write(self, data: bytes) -> None:
        step = self.conn.max_out
        for start in range(0, len(data), step):
            chunk = data[start : start + step]
            self.conn.count_out(self, len(chunk))
            self.conn.send(p.Packet(p.A_WRTE, self.local_id, self.remote_id, chunk))
            while True:
                kind, payload = self._next()
                if kind == "OKAY":
                    break
                self.inbuf += payload

    def read_exact(self, n: int) -> bytes:
        while len(self.inbuf) < n:
            kind, payload = self._next()
            if kind == "WRTE":
                self.inbuf += payload
        out = bytes(self.inbuf[:n])
        del self.inbuf[:n]
        return out


class _Connection:
    def __init__(self, device: VirtualAdbDevice, sock: socket.socket) -> None:
        self.device = device
        self.sock = sock
        self.wlock = threading.Lock()
        self.streams: dict[int, _Stream] = {}
        self.slock = threading.Lock()
        self.next_id = 1
        self.version = p.A_VERSION_MIN
        self.max_out = p.MAX_PAYLOAD_V1
        self.sent = 0
        self.alive = True

    # -- I/O ----------------------------------------------------------------------------

    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise _Closed
            buf += chunk
            if _QUICKACK is not None:
                # clients write header and payload separately; acking at once spares
                # them Nagle's wait for our delayed ACK (40 ms per packet)
                try:
                    self.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
                except OSError:
                    pass
        return bytes(buf)

    def recv(self) -> p.Packet:
        command, arg0, arg1, length, check = p.unpack_header(self._recv_exact(p.HEADER.size))
        data = self._recv_exact(length) if length else b""
        if (
            command != p.A_CNXN
            and self.version < p.A_VERSION_SKIP_CHECKSUM
            and check != p.checksum(data)
        ):
            raise p.ProtocolError("bad checksum")
        return p.Packet(command, arg0, arg1, data)

    def send(self, packet: p.Packet) -> None:
        raw = p.pack(packet, with_checksum=self.version < p.A_VERSION_SKIP_CHECKSUM)
        with self.wlock:
            if not self.alive:
                raise _Closed
            try:
                self.sock.sendall(raw)
            except OSError:
                self.alive = False
                raise _Closed from None

    def count_out(self, stream: _Stream, n: int) -> None:
        dev = self.device
        if dev.fail_after_bytes is None:
            return
        if dev.fail_in_service and not stream.service.startswith(dev.fail_in_service):
            return
        if self.sent + n > dev.fail_after_bytes:
            dev.drops += 1
            if dev.fail_once:
                dev.fail_after_bytes = None
            self.cut()
            raise _Dropped
        self.sent += n

    def cut(self) -> None:
        with self.wlock:
            self.alive = False
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- handshake -----------------------------------------------------------------------

    def handshake(self) -> bool:
        dev = self.device
        while True:
            pkt = self.recv()
            if pkt.command == p.A_CNXN:
                break
        self.version = min(max(pkt.arg0, p.A_VERSION_MIN), p.A_VERSION)
        self.max_out = max(p.MAX_PAYLOAD_V1, min(pkt.arg1, p.MAX_PAYLOAD))
        if dev.require_auth:
            token = os.urandom(p.TOKEN_SIZE)
            self.send(p.Packet(p.A_AUTH, p.AUTH_TOKEN, 0, token))
            while True:
                pkt = self.recv()
                if pkt.command != p.A_AUTH:
                    continue
                if pkt.arg0 == p.AUTH_SIGNATURE:
                    if any(k.verifies(token, pkt.data) for k in dev.trusted_keys):
                        dev.auth_log.append("signature accepted")
                        break
                    dev.auth_log.append("signature rejected")
                    token = os.urandom(p.TOKEN_SIZE)
                    self.send(p.Packet(p.A_AUTH, p.AUTH_TOKEN, 0, token))
                elif pkt.arg0 == p.AUTH_RSAPUBLICKEY:
                    key = p.AndroidPublicKey.parse(pkt.data)
                    dev.auth_log.append("public key offered: user prompted")
                    if not dev.accept_new_keys:
                        dev.auth_log.append("user did not allow the key")
                        return False
                    dev.trusted_keys.append(key)
                    dev.auth_log.append("user allowed the key")
                    break
        self.send(p.Packet(p.A_CNXN, p.A_VERSION, p.MAX_PAYLOAD, dev.banner().encode() + b"\0"))
        return True

    # -- main loop -----------------------------------------------------------------------

    def serve(self) -> None:
        try:
            if not self.handshake():
                return
            while True:
                self.dispatch(self.recv())
        except (_Closed, p.ProtocolError, OSError):
            pass
        finally:
            self.alive = False
            with self.slock:
                streams = list(self.streams.values())
                self.streams.clear()
            for stream in streams:
                stream.events.put(("CLSE", b""))
            try:
                self.sock.close()
            except OSError:
                pass

    def dispatch(self, pkt: p.Packet) -> None:
        if pkt.command == p.A_OPEN:
            service = pkt.data.rstrip(b"\0").decode("utf-8", "replace")
            self.device.requests.append(service)
            with self.slock:
                local = self.next_id
                self.next_id += 1
                stream = _Stream(self, local, pkt.arg0, service)
                self.streams[local] = stream
            try:
                handler = self.device.service_for(service)
            except Exception:  # a simulation bug refuses the service, never kills the link
                handler = None
            if handler is None:
                with self.slock:
                    self.streams.pop(local, None)
                self.send(p.Packet(p.A_CLSE, 0, pkt.arg0))
                return
            self.send(p.Packet(p.A_OKAY, local, pkt.arg0))
            threading.Thread(target=self._run_stream, args=(stream, handler), daemon=True).start()
            return
        with self.slock:
            found = self.streams.get(pkt.arg1)
        if found is None:
            return  # a CLSE answering ours, or a stale id
        stream = found
        if pkt.command == p.A_OKAY:
            stream.events.put(("OKAY", b""))
        elif pkt.command == p.A_WRTE:
            self.send(p.Packet(p.A_OKAY, stream.local_id, stream.remote_id))
            stream.events.put(("WRTE", pkt.data))
        elif pkt.command == p.A_CLSE:
            with self.slock:
                was_open = self.streams.pop(stream.local_id, None) is not None
            if was_open:
                self.send(p.Packet(p.A_CLSE, stream.local_id, stream.remote_id))
            stream.events.put(("CLSE", b""))

    def _run_stream(self, stream: _Stream, handler: Callable[[_Stream], None]) -> None:
        try:
            handler(stream)
        except (_Closed, _Dropped):
            return
        except Exception:  # a bug in the simulation must not hang the client
            pass
        with self.slock:
            was_open = self.streams.pop(stream.local_id, None) is not None
        if was_open:
            try:
                self.send(p.Packet(p.A_CLSE, stream.local_id, stream.remote_id))
            except _Closed:
                pass


def _pump(chunks: Iterator[bytes]) -> Callable[[_Stream], None]:
    def run(stream: _Stream) -> None:
        try:
            for chunk in chunks:
                if chunk:
                    stream.write(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    return run


class _Sync:
    """The ``sync:`` service, version 1, read-only."""

    def __init__(self, device: VirtualAdbDevice) -> None:
        self.device = device
        self.image = device.image

    def __call__(self, stream: _Stream) -> None:
        while True:
            ident, length = struct.unpack("<II", stream.read_exact(8))
            if length > p.SYNC_PATH_MAX:
                self._fail(stream, "path too long")
                return
            path = stream.read_exact(length).decode("utf-8", "surrogateescape")
            name = struct.pack("<I", ident).decode("ascii", "replace")
            self.device.requests.append(f"sync {name} {path}")
            if ident == p.ID_STAT:
                stream.write(struct.pack("<4I", p.ID_STAT, *self._lstat(path)))
            elif ident == p.ID_LIST:
                self._list(stream, path)
            elif ident == p.ID_RECV:
                if not self._recv(stream, path):
                    return
            elif ident == p.ID_SEND:
                self._fail(stream, "couldn't create file: Read-only file system")
                return
            elif ident == p.ID_QUIT:
                return
            else:
                self._fail(stream, f"unknown sync command {name}")
                return

    @staticmethod
    def _fail(stream: _Stream, message: str) -> None:
        data = message.encode()
        stream.write(struct.pack("<II", p.ID_FAIL, len(data)) + data)

    def _visible(self, device_path: str) -> Path | None:
        norm = DeviceImage.normalise(device_path)
        parent = os.path.dirname(norm) or "/"
        if norm != "/" and not self.image.readable(parent, self._uid()):
            return None  # cannot even lstat inside a folder we may not search
        return self.image.host_path(norm)

    def _uid(self) -> int:
        return 2000

    def _lstat(self, device_path: str) -> tuple[int, int, int]:
        host = self._visible(device_path)
        if host is None:
            return 0, 0, 0
        try:
            st = os.lstat(host)
        except OSError:
            return 0, 0, 0
        return st.st_mode & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF, int(st.st_mtime) & 0xFFFFFFFF

    def _list(self, stream: _Stream, device_path: str) -> None:
        norm = DeviceImage.normalise(device_path)
        host = self._visible(norm)
        out = bytearray()
        if host is not None and host.is_dir() and self.image.readable(norm, self._uid()):
            names = [".", "..", *sorted(os.listdir(host))]
            for name in names:
                if norm == "/" and name == "device.json":
                    continue
                try:
                    st = os.lstat(host / name) if name not in (".", "..") else os.stat(host)
                except OSError:
                    continue
                raw = name.encode("utf-8", "surrogateescape")
                out += struct.pack(
                    "<5I",
                    p.ID_DENT,
                    st.st_mode & 0xFFFFFFFF,
                    st.st_size & 0xFFFFFFFF,
                    int(st.st_mtime) & 0xFFFFFFFF,
                    len(raw),
                )
                out += raw
                if len(out) >= p.SYNC_DATA_MAX:
                    stream.write(bytes(out))
                    out.clear()
        out += struct.pack("<5I", p.ID_DONE, 0, 0, 0, 0)
        stream.write(bytes(out))

    def _recv(self, stream: _Stream, device_path: str) -> bool:
        norm = DeviceImage.normalise(device_path)
        if not self.image.readable(norm, self._uid()):
            self._fail(stream, "open failed: Permission denied")
            return False
        host = self.image.host_path(norm)
        if host is None or not host.exists():
            self._fail(stream, "open failed: No such file or directory")
            return False
        if host.is_dir():
            self._fail(stream, "read failed: Is a directory")
            return False
        with open(host, "rb") as fh:
            while chunk := fh.read(p.SYNC_DATA_MAX):
                stream.write(struct.pack("<II", p.ID_DATA, len(chunk)) + chunk)
        stream.write(struct.pack("<II", p.ID_DONE, 0))
        return True


class VirtualAdbDevice:
    """A phone on loopback TCP serving a device image; use it as a context manager.

    ``root`` makes ``su`` available. ``fail_after_bytes`` cuts the connection once that many
    payload bytes were sent (only on services starting with ``fail_in_service`` when
    given), as an unplugged cable would.
    """

    def __init__(
        self,
        image: Path | str,
        *,
        root: bool = False,
        port: int = 0,
        host: str = "127.0.0.1",
        require_auth: bool = True,
        accept_new_keys: bool = True,
        fail_after_bytes: int | None = None,
        fail_in_service: str | None = None,
        fail_once: bool = True,
    ) -> None:
        self.image = DeviceImage(image)
        self.root = root
        self.host = host
        self.port = port
        self.require_auth = require_auth
        self.accept_new_keys = accept_new_keys
        self.fail_after_bytes = fail_after_bytes
        self.fail_in_service = fail_in_service
        self.fail_once = fail_once
        self.drops = 0
        self.trusted_keys: list[p.AndroidPublicKey] = []
        self.auth_log: list[str] = []
        self.requests: list[str] = []
        self.shell = Shell(self.image, root_available=root)
        self._listener: socket.socket | None = None
        self._connections: list[_Connection] = []
        self._thread: threading.Thread | None = None

    @property
    def serial(self) -> str:
        return self.image.facts.serial

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def banner(self) -> str:
        props = self.image.facts.properties
        return (
            f"device::ro.product.name={props.get('ro.product.name', '')};"
            f"ro.product.model={props.get('ro.product.model', '')};"
            f"ro.product.device={props.get('ro.product.device', '')};"
        )

    def service_for(self, service: str) -> Callable[[_Stream], None] | None:
        if service == "sync:":
            return _Sync(self)
        for prefix in ("shell:", "exec:"):
            if service.startswith(prefix):
                return _pump(self.shell.run(service[len(prefix) :], SHELL))
        if service.startswith("backup:"):
            try:
                args = shlex.split(service[len("backup:") :])
            except ValueError:
                return None
            return _pump(backup_stream(self.image, args))
        return None  # root:, remount:, reboot:, restore:, ... are refused

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> VirtualAdbDevice:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(8)
        self.port = sock.getsockname()[1]
        self._listener = sock
        self._thread = threading.Thread(target=self._accept, name="vmf-adbd", daemon=True)
        self._thread.start()
        return self

    def _accept(self) -> None:
        listener = self._listener  # stop() clears the attribute while we may be blocked
        assert listener is not None
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(self, sock)
            self._connections.append(conn)
            threading.Thread(target=conn.serve, daemon=True).start()

    def disconnect_all(self) -> None:
        """Cut every open connection (the cable is pulled); the device keeps listening."""
        for conn in self._connections:
            conn.cut()

    def stop(self) -> None:
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        self.disconnect_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.image.close()

    def __enter__(self) -> VirtualAdbDevice:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_forever(image: Path | str, *, port: int, root: bool, ready: Callable[[str], None]) -> None:
    """Serve ``image`` until interrupted; ``ready`` receives the ``HOST:PORT`` to acquire.

    SIGTERM is treated like Ctrl-C so an unpacked archive image is always cleaned up.
    """
    device = VirtualAdbDevice(image, root=root, port=port)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        device.start()
        ready(device.address)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        device.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
