"""A synthetic Android file-system extraction that hides voicemail audio in every way the
weak-protection recovery knows (issue 4): base64 / hex / zlib / gzip / raw deflate
files, base64 of zlib, base64 in JSON, XML and SQLite TEXT, zlib and plain audio in
SQLite BLOBs, XOR with 1/4/16/32-byte keys and over the first 64 bytes only, junk
prefixes, AES (CBC, GCM, CTR, ECB) with the key in shared_prefs XML, a JSON file, a
SQLite row, a plist and as a PIN string, encrypted data with no key, and audio
concatenated back to back in one cache blob.

Every package is made up (``com.example.*``): these are test layouts, not claims about
any real app. Keys, IVs and noise come from SHA-256 of fixed labels, tar members are
sorted with fixed times and owner 0, so the same library versions (``versions()``)
rebuild the same bytes. :func:`expected` lists what a scan must recover.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import plistlib
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import av
from Crypto.Cipher import AES

from builders import audio, common

TAR_MTIME = 1700003600
CACHE = "data/data/com.example.vvmcache"
VAULT = "data/data/com.example.vault"
SECURE = "data/data/com.example.securevvm"
PIN = "4711-voicemail-pin"  # the derivation source of one key; never in any output


versions = common.versions


def det_bytes(label: str, n: int) -> bytes:
    return common.det_bytes(f"hidden/{label}", n)


_FORMATS = {
    "amr": {"fmt": "amr", "codec": "libopencore_amrnb", "bit_rate": 12200},
    "mp3": {"fmt": "mp3", "codec": "libmp3lame", "bit_rate": 32000},
    "wav": {"fmt": "wav", "codec": "pcm_s16le"},
    "opus": {"fmt": "ogg", "codec": "libopus", "bit_rate": 16000},
    "m4a": {"fmt": "ipod", "codec": "aac", "bit_rate": 32000},
}


def clip(kind: str, seed: int, seconds: float = 2.0) -> bytes:
    """Real audio, muxed bit-exact (the Ogg muxer otherwise draws a random serial)."""
    spec = dict(_FORMATS[kind])
    fmt, codec, bit_rate = spec["fmt"], spec["codec"], spec.get("bit_rate")
    return audio.encode(
        audio.voice_pcm(seconds, seed),
        fmt=fmt,
        codec=codec,
        bit_rate=bit_rate,
        container_options={"fflags": "+bitexact"},
    )


def xor(data: bytes, key: bytes, upto: int | None = None) -> bytes:
    n = len(data) if upto is None else upto
    stream = (key * (n // len(key) + 1))[:n]
    return bytes(a ^ b for a, b in zip(data[:n], stream, strict=True)) + data[n:]


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def _pad(data: bytes) -> bytes:
    n = 16 - len(data) % 16
    return data + bytes([n]) * n


def _sqlite(statements: list[tuple[str, tuple]]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "db"
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=DELETE")
        for sql, params in statements:
            conn.execute(sql, params)
        conn.commit()
        conn.close()
        return path.read_bytes()


def _prefs(entries: dict[str, str]) -> bytes:
    body = "".join(f'    <string name="{k}">{v}</string>\n' for k, v in entries.items())
    head = "<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\n"
    return f"{head}<map>\n{body}</map>\n".encode()


def content() -> tuple[dict[str, bytes], list[dict[str, object]]]:
    """(files of the image, what a scan must recover from them)."""
    a = {
        name: clip(kind, seed)
        for name, kind, seed in (
            ("amr1", "amr", 1),
            ("amr2", "amr", 2),
            ("amr3", "amr", 3),
            ("amr4", "amr", 4),
            ("amr5", "amr", 5),
            ("mp3a", "mp3", 6),
            ("mp3b", "mp3", 7),
            ("wav1", "wav", 8),
            ("wav2", "wav", 9),
            ("opus1", "opus", 10),
            ("opus2", "opus", 11),
            ("m4a1", "m4a", 12),
            ("m4a2", "m4a", 13),
            ("m4a3", "m4a", 14),
            ("amr6", "amr", 15),
            ("opus3", "opus", 16),
            ("mp3c", "mp3", 17),
            ("amr7", "amr", 18),
            ("wav3", "wav", 19),
            ("amr8", "amr", 20),
        )
    }
    files: dict[str, bytes] = {}
    expect: list[dict[str, object]] = []

    def want(path: str, name: str, protection: str, method: str | None, **kw: object) -> None:
        expect.append(
            {
                "evidence_path": path,
                "locator": kw.get("locator"),
                "protection": protection,
                "method": method,
                "key_path": kw.get("key_path"),
                "sha256": hashlib.sha256(a[name]).hexdigest(),
                "size": len(a[name]),
            }
        )

    # -- encoded files ------------------------------------------------------------------
    enc = {
        f"{CACHE}/files/msg/0001.b64": ("amr1", base64.encodebytes, "base64"),
        f"{CACHE}/files/msg/0002.hex": ("mp3a", lambda d: d.hex().encode(), "hex"),
        f"{CACHE}/cache/0003": ("wav1", lambda d: zlib.compress(d, 9), "zlib"),
        f"{CACHE}/cache/0004.gz": ("opus1", lambda d: gzip.compress(d, 9, mtime=0), "gzip"),
        f"{CACHE}/cache/0005": ("m4a1", _deflate, "deflate"),
        f"{CACHE}/files/msg/0006.dat": (
            "amr2",
            lambda d: base64.b64encode(zlib.compress(d, 9)),
            "base64+zlib",
        ),
    }
    for path, (name, encode, method) in enc.items():
        files[path] = encode(a[name])
        want(path, name, "encoded", method)

    # -- encoded values in JSON, XML, SQLite ---------------------------------------------
    inbox = {"messages": [{"id": "m1", "from": "+15555550123", "audio": None}]}
    inbox["messages"][0]["audio"] = base64.b64encode(a["opus2"]).decode()
    path = f"{CACHE}/files/api/inbox.json"
    files[path] = json.dumps(inbox, indent=1, sort_keys=True).encode()
    want(path, "opus2", "encoded", "base64", locator="json:$.messages[0].audio")

    path = f"{CACHE}/shared_prefs/last_message.xml"
    files[path] = _prefs({"from": "+15555550124", "payload": base64.b64encode(a["amr3"]).decode()})
    want(path, "amr3", "encoded", "base64", locator='xml:/map/string[2][@name="payload"]')

    path = f"{CACHE}/databases/messages.db"
    files[path] = _sqlite(
        [
            (
                "CREATE TABLE messages "
                "(id INTEGER PRIMARY KEY, sender TEXT, body TEXT, audio BLOB)",
                (),
            ),
            (
                "INSERT INTO messages VALUES (1, '+15555550125', ?, NULL)",
                (base64.b64encode(a["amr4"]).decode(),),
            ),
            (
                "INSERT INTO messages VALUES (2, '+15555550126', 'see audio', ?)",
                (zlib.compress(a["wav2"], 9),),
            ),
            ("INSERT INTO messages VALUES (3, '+15555550127', 'plain blob', ?)", (a["m4a2"],)),
        ]
    )
    loc = "sqlite:table=messages,rowid={},column={}"
    want(path, "amr4", "encoded", "base64", locator=loc.format(1, "body"))
    want(path, "wav2", "encoded", "zlib", locator=loc.format(2, "audio"))
    want(path, "m4a2", "none", None, locator=loc.format(3, "audio"))

    # a cached IMAP message with the audio as a MIME attachment (fixed boundary and header)
    path = f"{CACHE}/cache/imap/INBOX/17.eml"
    body = base64.encodebytes(a["amr2"]).replace(b"\n", b"\r\n")
    files[path] = (
        b"From: vvm@example.net\r\nSubject: voice mail\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="==b17=="\r\n\r\n'
        b"--==b17==\r\nContent-Type: text/plain\r\n\r\nYou have a new voice message.\r\n"
        b'--==b17==\r\nContent-Type: audio/amr; name="vm17.amr"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + body + b"--==b17==--\r\n"
    )
    want(path, "amr2", "encoded", "base64")

    # -- XOR and junk prefix ----------------------------------------------------------------
    header = "derived from container header"
    xors = [
        ("x01", "amr5", 1, None, header),
        ("x04", "m4a3", 4, None, header),
        ("x16", "opus3", 16, None, header),
        ("x32", "wav3", 32, None, header + " and byte statistics"),
        ("x64first", "amr6", 4, 64, header),
    ]
    for stem, name, klen, upto, how in xors:
        path = f"{CACHE}/files/obf/{stem}.bin"
        files[path] = xor(a[name], det_bytes(f"xor-{stem}", klen), upto)
        span = "" if upto is None else f", first {upto} bytes"
        want(path, name, "obfuscated", f"xor(len={klen}{span}, {how})")
    path = f"{VAULT}/files/.vault/7f3a9c"
    files[path] = det_bytes("vault-junk", 16) + a["mp3b"]
    want(path, "mp3b", "obfuscated", "prefix(n=16)")

    # -- AES with the key in the same app ---------------------------------------------------
    k_cbc, k_gcm, k_ctr, k_ecb = (
        det_bytes("key-cbc", 16),
        det_bytes("key-gcm", 32),
        det_bytes("key-ctr", 24),
        det_bytes("key-ecb", 16),
    )
    k_pin = hashlib.sha256(PIN.encode()).digest()
    prefs = f"{SECURE}/shared_prefs/crypto.xml"
    files[prefs] = _prefs(
        {"media_key": base64.b64encode(k_cbc).decode(), "login_pin": PIN, "user": "alice"}
    )
    keys_json = f"{SECURE}/files/keys.json"
    files[keys_json] = json.dumps({"audio": {"key": k_gcm.hex(), "alg": "AES-GCM"}}).encode()
    keys_db = f"{SECURE}/databases/keys.db"
    files[keys_db] = _sqlite(
        [
            ("CREATE TABLE keys (id INTEGER PRIMARY KEY, label TEXT, material BLOB)", ()),
            ("INSERT INTO keys VALUES (1, 'media', ?)", (k_ctr,)),
        ]
    )
    plist = f"{SECURE}/files/settings.plist"
    files[plist] = plistlib.dumps({"cache": {"k": k_ecb}}, fmt=plistlib.FMT_BINARY)

    iv = det_bytes("iv-cbc", 16)
    path = f"{SECURE}/files/vm/0001.enc"
    files[path] = iv + AES.new(k_cbc, AES.MODE_CBC, iv=iv).encrypt(_pad(a["amr7"]))
    note = '<string name="media_key">'
    want(
        path,
        "amr7",
        "weak-encryption",
        f"aes-128-cbc(iv=prefix, key from {prefs} {note}, base64)",
        key_path=prefs,
    )

    nonce = det_bytes("nonce-gcm", 12)
    ct, tag = AES.new(k_gcm, AES.MODE_GCM, nonce=nonce).encrypt_and_digest(a["mp3c"])
    path = f"{SECURE}/files/vm/0002.enc"
    files[path] = nonce + ct + tag
    want(
        path,
        "mp3c",
        "weak-encryption",
        f"aes-256-gcm(nonce=12-byte prefix, tag=16-byte suffix, key from {keys_json} "
        "json $.audio.key, hex)",
        key_path=keys_json,
    )

    n8 = det_bytes("nonce-ctr", 8)
    path = f"{SECURE}/files/vm/0003.enc"
    files[path] = n8 + AES.new(k_ctr, AES.MODE_CTR, nonce=n8).encrypt(a["amr8"])
    want(
        path,
        "amr8",
        "weak-encryption",
        f"aes-192-ctr(nonce=8-byte prefix, counter from 0, key from {keys_db} "
        "table keys rowid 1 column material)",
        key_path=keys_db,
    )

    path = f"{SECURE}/files/vm/0004.enc"
    files[path] = AES.new(k_ecb, AES.MODE_ECB).encrypt(_pad(a["opus1"]))
    want(
        path,
        "opus1",
        "weak-encryption",
        f"aes-128-ecb(key from {plist} plist $.cache.k)",
        key_path=plist,
    )

    nonce = det_bytes("nonce-pin", 12)
    ct, tag = AES.new(k_pin, AES.MODE_GCM, nonce=nonce).encrypt_and_digest(a["wav1"])
    path = f"{SECURE}/files/vm/0005.enc"
    files[path] = nonce + ct + tag
    want(
        path,
        "wav1",
        "weak-encryption",
        f"aes-256-gcm(nonce=12-byte prefix, tag=16-byte suffix, key from {prefs} "
        '<string name="login_pin">, sha256(utf-8))',
        key_path=prefs,
    )

    # -- encrypted, no key anywhere; plain audio concatenated --------------------------------
    path = f"{CACHE}/files/locked/0009.bin"
    files[path] = det_bytes("no-key-ciphertext", 6000)
    expect.append(
        {
            "evidence_path": path,
            "locator": None,
            "protection": "encrypted",
            "method": None,
            "key_path": None,
            "sha256": hashlib.sha256(files[path]).hexdigest(),
            "size": len(files[path]),
        }
    )
    path = "sdcard/Android/data/com.example.vvmcache/cache/bundle.bin"
    files[path] = a["amr1"] + a["mp3a"] + a["opus2"]
    for name in ("amr1", "mp3a", "opus2"):
        want(path, name, "none", None)
    return files, expect


def expected() -> list[dict[str, object]]:
    return content()[1]


def _dirs(paths: list[str]) -> list[str]:
    return sorted({p.rsplit("/", i)[0] for p in paths for i in range(1, p.count("/") + 1)})


def write_tar(out: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        for d in _dirs(list(files)):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode, info.mtime = 0o771, TAR_MTIME
            tar.addfile(info)
        for path in sorted(files):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(files[path]), 0o600, TAR_MTIME
            tar.addfile(info, io.BytesIO(files[path]))


def build(out: Path) -> None:
    write_tar(out, content()[0])


IMAGES: dict[str, Callable[[Path], None]] = {"android-hidden-fs.tar": build}
