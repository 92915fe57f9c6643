"""A virtual iPhone behind a fake usbmuxd, serving an iOS backup folder.

The whole device lives in one asyncio loop on a background thread, so synchronous tests
and the CLI can drive it with real clients (pymobiledevice3, libimobiledevice) while it
runs. It speaks the plist usbmuxd protocol on a unix socket, lockdownd on port 62078 and
one connection per started service, without TLS (the session and every service say
``EnableSessionSSL``/``EnableServiceSSL`` false, which both client libraries accept).

Every request any client makes is appended to :attr:`VirtualIosDevice.requests` as
``(service, text)``; tests use it to prove that a collector never asked the phone to
change anything.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import os
import plistlib
import shutil
import socket
import struct
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from .afc import LOCK_FILE, AfcServer
from .backup import BackupServer
from .channel import Channel, Dropped
from .image import CRASH_FOLDER, IosImage
from .services import crash_mover, house_arrest, installation_proxy, notification_proxy, springboard
from .tree import Node, Tree, bytes_node, file_node, tree_from_folder

LOCKDOWN_PORT = 62078
DEVICE_ID = 1
HOST_ID = "5C3A1E5E-0000-4000-8000-564D464F5245"
SYSTEM_BUID = "5C3A1E5E-0000-4000-8000-0000000B0001"
USBMUX_HEADER = struct.Struct("<IIII")
RESULT_OK, RESULT_BADCOMMAND, RESULT_BADDEV, RESULT_CONNREFUSED, RESULT_BADVERSION = 0, 1, 2, 3, 6

SERVICES = (
    "com.apple.afc",
    "com.apple.mobile.house_arrest",
    "com.apple.crashreportcopymobile",
    "com.apple.crashreportmover",
    "com.apple.mobile.notification_proxy",
    "com.apple.mobile.insecure_notification_proxy",
    "com.apple.mobile.installation_proxy",
    "com.apple.springboardservices",
    "com.apple.mobilebackup2",
)


class VirtualIosDevice:
    """Context manager: ``with VirtualIosDevice(folder) as dev: ... dev.usbmux_address``.

    ``on_request(service, text)`` sees every request as it arrives (``simulate`` can show
    them live). ``password`` unlocks an encrypted image so its media can be shown over AFC.
    ``fail_after_bytes`` pulls the virtual cable once the device has sent that many bytes
    on ``fail_service`` (default: the backup service): every connection drops and the
    device disappears from usbmuxd until :meth:`reattach`.
    """

    def __init__(
        self,
        image: str | os.PathLike[str],
        *,
        socket_path: str | None = None,
        locked: bool = False,
        trusted: bool = True,
        accept_pairing: bool = False,
        fail_after_bytes: int | None = None,
        fail_service: str | None = "com.apple.mobilebackup2",
        clock_offset: float = 0.0,
        password: str | None = None,
        on_request: Callable[[str, str], None] | None = None,
    ) -> None:
        self.image = IosImage.load(image, password=password)
        self.udid = self.image.udid
        self._own_dir: str | None = None
        if socket_path is None:
            self._own_dir = tempfile.mkdtemp(prefix="vmf-usbmux-")
            socket_path = os.path.join(self._own_dir, "usbmuxd")
        self.socket_path = str(socket_path)
        self.locked = locked
        self.trusted = trusted
        self.accept_pairing = accept_pairing
        self._saved_records: dict[str, bytes] = {}
        self.fail_after_bytes = fail_after_bytes
        self.fail_service = fail_service
        self.clock_offset = clock_offset
        # Bounded so a long training session does not grow without end.
        self.requests: collections.deque[tuple[str, str]] = collections.deque(maxlen=200_000)
        self.on_request = on_request
        self.detached = False
        self._sent: dict[str, int] = {}
        self._pending: dict[int, str] = {}
        self._next_port = 49200
        self._channels: set[Channel] = set()
        self._listeners: set[asyncio.Queue[dict[str, Any]]] = set()
        self._host_ids = {HOST_ID}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._media: Tree | None = None
        self._containers: dict[str, Tree] | None = None
        self._crash: Tree | None = None

    # -- public ----------------------------------------------------------------------
    @property
    def usbmux_address(self) -> str:
        """The value for ``USBMUXD_SOCKET_ADDRESS`` (libusbmuxd wants the ``UNIX:`` form)."""
        return f"UNIX:{self.socket_path}"

    @property
    def pair_record(self) -> dict[str, Any]:
        """The pair record this device trusts (also served to usbmuxd's ReadPairRecord)."""
        return {
            "HostID": HOST_ID,
            "SystemBUID": SYSTEM_BUID,
            "HostCertificate": b"",
            "HostPrivateKey": b"",
            "RootCertificate": b"",
            "RootPrivateKey": b"",
            "DeviceCertificate": b"",
            "EscrowBag": b"virtual-escrow-bag",
            "WiFiMACAddress": "02:00:00:00:00:01",
        }

    def start(self) -> VirtualIosDevice:
        self._thread = threading.Thread(target=self._run, name="virtual-ios", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError(f"virtual iOS device failed to start: {self._error}")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        with contextlib.suppress(OSError):
            os.unlink(self.socket_path)
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
        self.image.close()

    def __enter__(self) -> VirtualIosDevice:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reattach(self, *, fail_after_bytes: int | None = None) -> None:
        """Plug the virtual cable back in (for rerun tests)."""

        def _do() -> None:
            self.fail_after_bytes = fail_after_bytes
            self._sent.clear()
            self.detached = False
            for queue in self._listeners:
                queue.put_nowait(self._attached())

        assert self._loop is not None
        self._loop.call_soon_threadsafe(_do)

    # -- loop ------------------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        # No traceback formatting on this thread (CPython 3.11 parses source with ast to
        # format one, racing compiles in the test's main thread); dropped links are expected.
        loop.set_exception_handler(lambda _loop, ctx: None)
        self._loop = loop
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)
            self._server = loop.run_until_complete(
                asyncio.start_unix_server(self._usbmux_client, path=self.socket_path)
            )
            os.chmod(self.socket_path, 0o600)
        except BaseException as exc:  # report to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            for ch in list(self._channels):
                ch.close()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def _record(self, service: str, text: str) -> None:
        self.requests.append((service, text))
        if self.on_request is not None:
            try:
                self.on_request(service, text)
            except Exception:  # a display callback must not take the phone down
                pass

    # Budget protocol for channels
    def take(self, service: str, n: int) -> int:
        if self.detached:
            return 0
        if self.fail_after_bytes is None or (self.fail_service not in (None, service)):
            return n
        sent = self._sent.get(service, 0)
        allowed = max(0, min(n, self.fail_after_bytes - sent))
        self._sent[service] = sent + allowed
        return allowed

    def drop(self) -> None:
        if self.detached:
            return
        self.detached = True
        self._record("usbmuxd", "cable pulled")
        for ch in list(self._channels):
            ch.close()
        for queue in self._listeners:
            queue.put_nowait({"MessageType": "Detached", "DeviceID": DEVICE_ID})

    # -- usbmuxd ---------------------------------------------------------------------
    def _attached(self) -> dict[str, Any]:
        return {
            "MessageType": "Attached",
            "DeviceID": DEVICE_ID,
            "Properties": {
                "ConnectionSpeed": 480000000,
                "ConnectionType": "USB",
                "DeviceID": DEVICE_ID,
                "LocationID": 0x14100000,
                "ProductID": 0x12A8,
                "SerialNumber": self.udid,
                "USBSerialNumber": self.udid.replace("-", ""),
            },
        }

    async def _usbmux_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        handed_off = False
        try:
            while True:
                head = await reader.readexactly(USBMUX_HEADER.size)
                length, version, message, tag = USBMUX_HEADER.unpack(head)
                if length < USBMUX_HEADER.size or length > 1024 * 1024:
                    return
                payload = await reader.readexactly(length - USBMUX_HEADER.size)
                if version != 1 or message != 8:
                    self._record("usbmuxd", f"binary message {message}")
                    body = struct.pack("<I", RESULT_BADVERSION)
                    writer.write(USBMUX_HEADER.pack(16 + len(body), 0, 1, tag) + body)
                    await writer.drain()
                    continue
                request = plistlib.loads(payload)
                kind = str(request.get("MessageType", ""))
                handed_off = await self._usbmux_request(kind, request, tag, reader, writer)
                if handed_off:
                    return
        except (asyncio.IncompleteReadError, ConnectionError, plistlib.InvalidFileException):
            return
        finally:
            if not handed_off:
                writer.close()

    async def _mux_send(self, writer: asyncio.StreamWriter, tag: int, body: dict[str, Any]) -> None:
        data = plistlib.dumps(body)
        writer.write(USBMUX_HEADER.pack(16 + len(data), 1, 8, tag) + data)
        await writer.drain()

    async def _mux_result(self, writer: asyncio.StreamWriter, tag: int, number: int) -> None:
        await self._mux_send(writer, tag, {"MessageType": "Result", "Number": number})

    async def _usbmux_request(
        self,
        kind: str,
        request: dict[str, Any],
        tag: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        if kind == "Connect":
            port = socket.ntohs(int(request.get("PortNumber", 0)) & 0xFFFF)
            self._record("usbmuxd", f"Connect {port}")
            if self.detached or request.get("DeviceID") != DEVICE_ID:
                await self._mux_result(writer, tag, RESULT_BADDEV)
                return False
            service = "lockdown" if port == LOCKDOWN_PORT else self._pending.pop(port, None)
            if service is None:
                await self._mux_result(writer, tag, RESULT_CONNREFUSED)
                return False
            await self._mux_result(writer, tag, RESULT_OK)
            asyncio.get_running_loop().create_task(self._serve(service, reader, writer))
            return True
        self._record("usbmuxd", kind)
        if kind == "ReadBUID":
            await self._mux_send(writer, tag, {"BUID": SYSTEM_BUID})
        elif kind == "ListDevices":
            devices = [] if self.detached else [self._attached()]
            await self._mux_send(writer, tag, {"DeviceList": devices})
        elif kind == "ListListeners":
            await self._mux_send(writer, tag, {"ListenerList": []})
        elif kind == "ReadPairRecord":
            saved = self._saved_records.get(str(request.get("PairRecordID")))
            if saved is not None:
                await self._mux_send(writer, tag, {"PairRecordData": saved})
            elif request.get("PairRecordID") == self.udid and self.trusted:
                data = plistlib.dumps(self.pair_record)
                await self._mux_send(writer, tag, {"PairRecordData": data})
            else:
                await self._mux_result(writer, tag, RESULT_BADDEV)
        elif kind == "SavePairRecord":
            # usbmuxd keeps host-side records; it does not make the phone trust anyone.
            record = request.get("PairRecordData")
            if isinstance(record, bytes):
                self._saved_records[str(request.get("PairRecordID"))] = record
            await self._mux_result(writer, tag, RESULT_OK)
        elif kind == "DeletePairRecord":
            await self._mux_result(writer, tag, RESULT_OK)
        elif kind == "Listen":
            await self._mux_result(writer, tag, RESULT_OK)
            await self._listen(writer)
            return True
        else:
            await self._mux_result(writer, tag, RESULT_BADCOMMAND)
        return False

    async def _listen(self, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        if not self.detached:
            queue.put_nowait(self._attached())
        self._listeners.add(queue)
        try:
            while True:
                await self._mux_send(writer, 0, await queue.get())
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._listeners.discard(queue)
            writer.close()

    # -- device ports ----------------------------------------------------------------
    async def _serve(
        self, service: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        ch = Channel(reader, writer, service, self)
        self._channels.add(ch)
        record = lambda text: self._record(service, text)  # noqa: E731
        model = str(self.image.lockdown_values().get("ProductType", ""))
        try:
            if service == "lockdown":
                await self._lockdownd(ch)
            elif service == "com.apple.afc":
                await AfcServer(ch, self._media_tree(), record, model=model).serve()
            elif service == "com.apple.crashreportcopymobile":
                await AfcServer(ch, self._crash_tree(), record, model=model).serve()
            elif service == "com.apple.crashreportmover":
                await crash_mover(ch, record)
                await ch.reader.read()  # the client closes when it has its ping
            elif service == "com.apple.mobile.house_arrest":
                await house_arrest(ch, record, self._container_trees(), model)
            elif service.endswith("notification_proxy"):
                await notification_proxy(ch, record)
            elif service == "com.apple.mobile.installation_proxy":
                await installation_proxy(ch, record, self.image.applications())
            elif service == "com.apple.springboardservices":
                await springboard(ch, record)
            elif service == "com.apple.mobilebackup2":
                await BackupServer(ch, self.image, record).serve()
        except (Dropped, EOFError, ConnectionError):
            pass
        finally:
            self._channels.discard(ch)
            ch.close()

    # -- lockdownd -------------------------------------------------------------------
    def _values(self) -> dict[str, Any]:
        values = self.image.lockdown_values()
        values["TimeIntervalSince1970"] = time.time() + self.clock_offset
        values["PasswordProtected"] = self.locked
        values["TrustedHostAttached"] = self.trusted
        values["HostAttached"] = True
        values["DevicePublicKey"] = _device_public_key()
        return values

    def _domain(self, domain: str) -> dict[str, Any] | None:
        domains: dict[str, dict[str, Any]] = {
            "com.apple.mobile.backup": {
                "WillEncrypt": self.image.encrypted,
                "RequiresEncrypt": False,
                "CloudBackupEnabled": False,
            },
            "com.apple.mobile.iTunes": {"MinITunesVersion": "10.0.1"},
            "com.apple.iTunes": {},
            "com.apple.mobile.data_sync": {},
            "com.apple.international": {"Locale": "en_US", "Language": "en"},
            "com.apple.disk_usage": {
                "TotalDiskCapacity": 64 * 1024**3,
                "AmountDataAvailable": 32 * 1024**3,
            },
            "com.apple.mobile.battery": {"BatteryCurrentCapacity": 80, "BatteryIsCharging": True},
        }
        return domains.get(domain)

    async def _lockdownd(self, ch: Channel) -> None:
        session = False
        while True:
            try:
                msg = await ch.recv_plist()
            except EOFError:
                return
            if not isinstance(msg, dict):
                return
            request = str(msg.get("Request", ""))
            reply: dict[str, Any] = {"Request": request}
            detail = request
            if request == "GetValue":
                domain, key = msg.get("Domain"), msg.get("Key")
                detail = f"GetValue {domain or ''} {key or ''}".rstrip()
                scope = self._values() if domain is None else self._domain(str(domain))
                if domain is not None:
                    reply["Domain"] = domain
                if key is not None:
                    reply["Key"] = key
                if scope is None or (key is not None and key not in scope):
                    reply["Error"] = "MissingValue"
                else:
                    reply["Value"] = scope if key is None else scope[key]
            elif request == "QueryType":
                reply["Type"] = "com.apple.mobile.lockdown"
            elif request == "StartSession":
                if self.trusted and msg.get("HostID") in self._host_ids:
                    session = True
                    reply.update({"SessionID": uuid.uuid4().hex.upper(), "EnableSessionSSL": False})
                else:
                    reply["Error"] = "InvalidHostID"
            elif request == "StopSession":
                session = False
                reply["Result"] = "Success"
            elif request == "ValidatePair":
                if not self.trusted:
                    reply["Error"] = "InvalidHostID"
            elif request == "StartService":
                name = str(msg.get("Service", ""))
                detail = f"StartService {name}" + (" +EscrowBag" if "EscrowBag" in msg else "")
                if not session:
                    reply["Error"] = "InvalidHostID" if not self.trusted else "SessionInactive"
                elif self.locked:
                    reply["Error"] = "PasswordProtected"
                elif name not in SERVICES:
                    reply["Error"] = "InvalidService"
                else:
                    port = self._next_port
                    self._next_port += 1
                    self._pending[port] = name
                    reply.update({"Service": name, "Port": port, "EnableServiceSSL": False})
            elif request == "Goodbye":
                reply["Result"] = "Success"
                self._record("lockdown", detail)
                await ch.send_plist(reply)
                return
            elif request == "Pair":
                record = msg.get("PairRecord")
                host_id = record.get("HostID") if isinstance(record, dict) else None
                if (self.accept_pairing or self.trusted) and isinstance(host_id, str):
                    # The user tapped Trust (and entered the passcode): the phone trusts this host.
                    self._host_ids.add(host_id)
                    self.trusted = True
                    reply["EscrowBag"] = self.pair_record["EscrowBag"]
                else:
                    reply["Error"] = "PairingDialogResponsePending"
            else:
                # SetValue, RemoveValue, EnterRecovery, Unpair, Activate, ...: refused.
                reply["Error"] = "NotAllowed"
            self._record("lockdown", detail)
            await ch.send_plist(reply)

    # -- content trees ---------------------------------------------------------------
    def _media_tree(self) -> Tree:
        if self._media is None:
            tree = Tree()
            for rec in self.image.records:
                if rec.domain != "MediaDomain" or not rec.relative_path.startswith("Media/"):
                    continue
                path = rec.relative_path[len("Media/") :]
                self._add_record(tree, path, rec)
            lock = Node("file", mtime=time.time(), writable=True)
            tree.add(LOCK_FILE, lock)
            tree.mkdirs(["iTunes_Control", "iTunes"])
            self._media = tree
        return self._media

    def _container_trees(self) -> dict[str, Tree] | None:
        if self.image.encrypted:
            return None
        if self._containers is None:
            trees: dict[str, Tree] = {}
            for rec in self.image.records:
                if not rec.domain.startswith("AppDomain-"):
                    continue
                tree = trees.setdefault(rec.domain[len("AppDomain-") :], Tree())
                self._add_record(tree, rec.relative_path, rec)
            for bundle in self.image.applications():
                trees.setdefault(bundle, Tree()).mkdirs(["Documents"])
            self._containers = trees
        return self._containers

    def _add_record(self, tree: Tree, path: str, rec: Any) -> None:
        if not path:
            return
        if rec.flags == 2:
            tree.add(path, Node("dir", mtime=rec.mtime, birth=rec.birth))
        elif rec.flags == 4:
            tree.add(path, Node("link", mtime=rec.mtime, birth=rec.birth, target=rec.target or ""))
        else:
            payload = self.image.payload_path(rec)
            if not payload.is_file() or payload.is_symlink():
                return
            if self.image.keys is None:
                tree.add(path, file_node(payload, rec.mtime, rec.birth))
            else:
                opener = functools.partial(self.image.open_payload, rec)
                tree.add(path, Node("file", rec.mtime, rec.birth, rec.size, opener=opener))

    def _crash_tree(self) -> Tree:
        if self._crash is None:
            folder = self.image.root / CRASH_FOLDER
            if folder.is_dir() and not folder.is_symlink():
                self._crash = tree_from_folder(folder)
            else:
                tree = Tree()
                values = self.image.lockdown_values()
                os_version = f"iPhone OS {values['ProductVersion']} ({values['BuildVersion']})"
                header = {"bug_type": "109", "os_version": os_version, "name": "VirtualApp"}
                report = {"exception": {"type": "EXC_CRASH", "signal": "SIGABRT"}}
                body = (
                    json.dumps(header, separators=(",", ":")) + "\n" + json.dumps(report) + "\n"
                ).encode()
                tree.add("VirtualApp-2024-01-01-000000.ips", bytes_node(body, 1704067200.0))
                self._crash = tree
        return self._crash


@functools.cache
def _device_public_key() -> bytes:
    """One RSA key per process: pairing clients build their certificates from it."""
    from Crypto.PublicKey import RSA

    return RSA.generate(2048).public_key().export_key(format="PEM", pkcs=1)


def run_forever(
    image: str | os.PathLike[str],
    *,
    socket_path: str | None = None,
    ready: Callable[[str], None] = lambda address: None,
    stop: threading.Event | None = None,
    **options: Any,
) -> None:
    """Serve ``image`` until interrupted (Ctrl-C) or ``stop`` is set.

    ``ready`` is called once the socket listens, with the ``USBMUXD_SOCKET_ADDRESS`` value
    in libusbmuxd's ``UNIX:/path`` form (pymobiledevice3's own CLI wants the bare path).
    Raises ValueError when ``image`` is not an iOS backup folder.
    """
    device = VirtualIosDevice(image, socket_path=socket_path, **options)
    stop = stop or threading.Event()
    with device:
        ready(device.usbmux_address)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
