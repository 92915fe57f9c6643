"""The handful of device commands an acquisition sends, answered from the image.

Output texts copy what AOSP's toybox, ``run-as``, ``su`` wrappers and the ``content``
tool print, because the collector has to recognise those answers on a real phone.
Without a PTY, adbd merges stderr into the stream (``shell:`` v1 and ``exec:``), so error
lines arrive inline, as here.
"""

from __future__ import annotations

import os
import posixpath
import shlex
import shutil
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from vmforensics.virtual.adb.backup import backup_stream
from vmforensics.virtual.adb.image import DeviceImage
from vmforensics.virtual.adb.streams import stream_writer

SHELL_UID = 2000
_CHUNK = 64 * 1024
_NOT_FOUND = "/system/bin/sh: {}: inaccessible or not found\n"

VOICEMAIL_URI = "content://com.android.voicemail/voicemail"
CALL_LOG_URI = "content://call_log/calls"
_CALLLOG_DB = "data/data/com.android.providers.contacts/databases/calllog.db"


@dataclass(frozen=True)
class User:
    uid: int
    name: str
    app: str | None = None
    cwd: str = "/"


ROOT = User(0, "root")
SHELL = User(SHELL_UID, "shell")


def _text(s: str) -> Iterator[bytes]:
    yield s.encode("utf-8")


class Shell:
    """Runs one command line for ``user``; yields the merged stdout/stderr bytes."""

    def __init__(self, image: DeviceImage, *, root_available: bool) -> None:
        self.image = image
        self.root_available = root_available

    # -- entry point -----------------------------------------------------------------

    def run(self, line: str, user: User = SHELL) -> Iterator[bytes]:
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            return _text(f"/system/bin/sh: syntax error: {exc}\n")
        if not argv:
            return iter(())
        if any(tok in (";", "|", "&&", "||", ">", "<") for tok in argv):
            return _text("/system/bin/sh: pipes and redirections are not simulated\n")
        return self._dispatch(argv, user)

    def _dispatch(self, argv: list[str], user: User) -> Iterator[bytes]:
        handler = getattr(self, "_cmd_" + argv[0].replace("-", "_"), None)
        if handler is None or argv[0].startswith("_"):
            return _text(_NOT_FOUND.format(argv[0]))
        return handler(argv[1:], user)

    # -- commands -------------------------------------------------------------------

    def _cmd_getprop(self, args: list[str], user: User) -> Iterator[bytes]:
        props = self.image.facts.properties
        if args:
            return _text(props.get(args[0], args[1] if len(args) > 1 else "") + "\n")
        return _text("".join(f"[{k}]: [{v}]\n" for k, v in sorted(props.items())))

    def _cmd_date(self, args: list[str], user: User) -> Iterator[bytes]:
        now = time.time() + self.image.facts.clock_offset_s
        fmt = "%a %b %d %H:%M:%S UTC %Y"
        for arg in args:
            if arg.startswith("+"):
                fmt = arg[1:]
            elif arg != "-u":
                return _text(f"date: bad date '{arg}'\n")
        out = fmt.replace("%s", str(int(now)))
        return _text(time.strftime(out, time.gmtime(now)) + "\n")

    def _cmd_id(self, args: list[str], user: User) -> Iterator[bytes]:
        if user.uid == 0:
            return _text("uid=0(root) gid=0(root) groups=0(root) context=u:r:su:s0\n")
        if user.app:
            return _text(f"uid={user.uid}({user.name}) gid={user.uid}({user.name})\n")
        return _text(
            "uid=2000(shell) gid=2000(shell) groups=2000(shell),1004(input),1007(log),"
            "1011(adb),1015(sdcard_rw),1028(sdcard_r),3003(inet) context=u:r:shell:s0\n"
        )

    def _cmd_whoami(self, args: list[str], user: User) -> Iterator[bytes]:
        return _text(user.name + "\n")

    def _cmd_echo(self, args: list[str], user: User) -> Iterator[bytes]:
        return _text(" ".join(args) + "\n")

    def _cmd_pm(self, args: list[str], user: User) -> Iterator[bytes]:
        if args[:2] != ["list", "packages"]:
            return _text("pm: only 'pm list packages' is simulated\n")
        return _text("".join(f"package:{p}\n" for p in self.image.packages()))

    def _cmd_su(self, args: list[str], user: User) -> Iterator[bytes]:
        if not self.root_available:
            return _text(_NOT_FOUND.format("su"))
        if not args:
            return iter(())
        if args[0] == "-c":
            return self.run(" ".join(args[1:]), ROOT)
        if args[0] in ("0", "root"):
            rest = args[1:]
            if rest[:1] == ["-c"]:
                return self.run(" ".join(rest[1:]), ROOT)
            return self._dispatch(rest, ROOT) if rest else iter(())
        return _text(f"su: unknown user or option {args[0]}\n")

    def _cmd_run_as(self, args: list[str], user: User) -> Iterator[bytes]:
        if not args:
            return _text("usage: run-as <package-name> [--user <uid>] <command> [<args>]\n")
        package, rest = args[0], args[1:]
        if user.uid not in (0, SHELL_UID):
            return _text("run-as: only 'shell' or 'root' users can run this program\n")
        if package not in self.image.packages():
            return _text(f"run-as: unknown package: {package}\n")
        if package not in self.image.facts.debuggable:
            return _text(f"run-as: package not debuggable: {package}\n")
        app_uid = 10000 + self.image.packages().index(package)
        app_user = User(app_uid, f"u0_a{app_uid - 10000}", package, f"/data/user/0/{package}")
        return self._dispatch(rest, app_user) if rest else iter(())

    def _resolve(self, path: str, user: User) -> tuple[str, Path | None]:
        device = DeviceImage.normalise(path, user.cwd)
        return device, self.image.host_path(device)

    def _cmd_cat(self, args: list[str], user: User) -> Iterator[bytes]:
        for arg in args:
            device, host = self._resolve(arg, user)
            if host is None or not host.exists():
                yield f"cat: {arg}: No such file or directory\n".encode()
            elif not self.image.readable(device, user.uid, user.app):
                yield f"cat: {arg}: Permission denied\n".encode()
            elif host.is_dir():
                yield f"cat: {arg}: Is a directory\n".encode()
            else:
                with open(host, "rb") as fh:
                    while chunk := fh.read(_CHUNK):
                        yield chunk

    def _cmd_ls(self, args: list[str], user: User) -> Iterator[bytes]:
        flags = "".join(a[1:] for a in args if a.startswith("-"))
        paths = [a for a in args if not a.startswith("-")] or ["."]
        out: list[str] = []
        for arg in paths:
            device, host = self._resolve(arg, user)
            if host is None or not (host.exists() or host.is_symlink()):
                out.append(f"ls: {arg}: No such file or directory\n")
            elif "d" in flags or not host.is_dir():
                out.append(arg + "\n")
            elif not self.image.readable(device, user.uid, user.app):
                out.append(f"ls: {arg}: Permission denied\n")
            else:
                names = sorted(c.name for c in host.iterdir())
                if device == "/":
                    names = [n for n in names if n != "device.json"]
                if "a" in flags:
                    names = [".", "..", *names]
                out.extend(n + "\n" for n in names)
        return _text("".join(out))

    def _cmd_tar(self, args: list[str], user: User) -> Iterator[bytes]:
        create = False
        to_stdout = False
        directory = user.cwd
        names: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "-C" and i + 1 < len(args):
                directory = DeviceImage.normalise(args[i + 1], user.cwd)
                i += 2
                continue
            if arg.startswith("-") and arg != "-":
                letters = arg[1:]
                create |= "c" in letters
                if "f" in letters and i + 1 < len(args):
                    to_stdout = args[i + 1] == "-"
                    i += 1
            else:
                names.append(arg)
            i += 1
        if not create or not to_stdout:
            return _text("tar: only 'tar -cf - [-C DIR] NAME...' is simulated\n")
        if not names:
            return _text("tar: empty archive\n")
        errors: list[str] = []
        members: list[tuple[str, Path]] = []
        for name in names:
            device = DeviceImage.normalise(name, directory)
            host = self.image.host_path(device)
            if host is None or not host.exists():
                errors.append(f"tar: {name}: No such file or directory\n")
            elif not self.image.readable(device, user.uid, user.app):
                errors.append(f"tar: {name}: Permission denied\n")
            else:
                members.append((os.path.normpath(name).lstrip("/") or ".", host))
        if errors:
            return _text("".join(errors))

        hidden = self.image.facts.selinux_hidden

        def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
            if posixpath.join(directory, info.name) in hidden:
                return None  # denied by policy: real tar may skip it without a word
            return _no_links(info)

        def produce(out: BinaryIO) -> None:
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for arcname, host in members:
                    tar.add(str(host), arcname=arcname, recursive=True, filter=keep)

        return stream_writer(produce)

    def _cmd_find(self, args: list[str], user: User) -> Iterator[bytes]:
        """``find DIR... [-type f]``: every file path under DIR, one per line."""
        only_files = "-type" in args and args[args.index("-type") + 1 : ][:1] == ["f"]
        roots = [a for a in args if not a.startswith("-") and a != "f"]
        out: list[str] = []
        for arg in roots or ["."]:
            device = DeviceImage.normalise(arg, user.cwd)
            host = self.image.host_path(device)
            if host is None or not host.exists():
                out.append(f"find: {arg}: No such file or directory\n")
                continue
            if not self.image.readable(device, user.uid, user.app):
                out.append(f"find: {arg}: Permission denied\n")
                continue
            for dirpath, dirnames, filenames in os.walk(host):
                dirnames.sort()
                rel = os.path.relpath(dirpath, host)
                base = device if rel == "." else posixpath.join(device, rel)
                if not only_files:
                    out.append(base + "\n")
                out.extend(posixpath.join(base, name) + "\n" for name in sorted(filenames))
        return _text("".join(out))

    def _cmd_content(self, args: list[str], user: User) -> Iterator[bytes]:
        if not args or args[0] != "query":
            return _text("content: only 'content query --uri URI' is simulated\n")
        uri = projection = None
        i = 1
        while i < len(args) - 1:
            if args[i] == "--uri":
                uri = args[i + 1]
            elif args[i] == "--projection":
                projection = args[i + 1].split(":")
            i += 2
        if uri is None:
            return _text("[ERROR] Content provider URI not specified\n")
        return _text(self._query(uri, projection, user))

    def _query(self, uri: str, projection: list[str] | None, user: User) -> str:
        facts = self.image.facts
        if uri.rstrip("/") == VOICEMAIL_URI:
            allowed, where, perm = facts.voicemail_readable, "type = 4", "ADD_VOICEMAIL"
            provider, klass = "com.android.voicemail", "VoicemailContentProvider"
        elif uri.rstrip("/") == CALL_LOG_URI:
            allowed, where, perm = facts.call_log_readable, "1", "READ_CALL_LOG"
            provider, klass = "call_log", "CallLogProvider"
        else:
            return (
                f"Error while accessing provider:{uri}\n"
                f"java.lang.IllegalArgumentException: Unknown URI {uri}\n"
            )
        if not (allowed or user.uid == 0):
            permission = (
                "com.android.voicemail.permission.ADD_VOICEMAIL"
                if perm == "ADD_VOICEMAIL"
                else "android.permission.READ_CALL_LOG"
            )
            return (
                f"Error while accessing provider:{provider}\n"
                "java.lang.SecurityException: Permission Denial: reading "
                f"com.android.providers.contacts.{klass} uri {uri} from pid={os.getpid()}, "
                f"uid={user.uid} requires {permission}, or grantUriPermission()\n"
            )
        db = self.image.root / _CALLLOG_DB
        if not db.is_file():
            return "No result found.\n"
        rows, columns = _read_calls(db, where)
        if not rows:
            return "No result found.\n"
        cols = [c for c in (projection or columns) if c in columns]
        out = []
        for n, row in enumerate(rows):
            fields = ", ".join(f"{c}={_fmt(row[columns.index(c)])}" for c in cols)
            out.append(f"Row: {n} {fields}\n")
        return "".join(out)

    def _cmd_bu(self, args: list[str], user: User) -> Iterator[bytes]:
        if not args or args[0] != "backup":
            return _text("bu: only 'bu backup' is simulated\n")
        return backup_stream(self.image, args[1:])


def _no_links(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    if info.issym() or info.islnk() or not (info.isfile() or info.isdir()):
        return None
    info.uname = info.gname = ""
    return info


def _fmt(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return "[blob]"
    return str(value)


def _read_calls(db: Path, where: str) -> tuple[list[tuple[object, ...]], list[str]]:
    """Rows from a read-only scratch copy, so the image's database is never touched."""
    with tempfile.TemporaryDirectory(prefix="vmf-adb-calllog-") as tmp:
        copy = Path(tmp) / "calllog.db"
        shutil.copyfile(db, copy)
        for suffix in ("-wal", "-shm"):
            side = db.with_name(db.name + suffix)
            if side.is_file():
                shutil.copyfile(side, copy.with_name(copy.name + suffix))
        con = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
        try:
            cur = con.execute(f"SELECT * FROM calls WHERE {where} ORDER BY _id")
            columns = [d[0] for d in cur.description]
            rows = cur.fetchall()
        except sqlite3.Error:
            return [], []
        finally:
            con.close()
    return rows, columns
