"""AES-encrypted audio opened with keys hunted in the same source (XML, plist, JSON, SQLite)."""

from __future__ import annotations

import base64
import hashlib
import json
import plistlib
import random
import sqlite3
import zlib
from pathlib import Path

import pytest
from Crypto.Cipher import AES
from prot_helpers import audio_records, make_ctx, run, sample, sha

from parsers.protection import Analyser
from parsers.records import FindingRecord, ProblemRecord

PKG = "data/data/com.example.vvmcache"
CIPHER = f"{PKG}/files/vm/0001.enc"
MODES = [
    "ecb",
    "cbc-prefix",
    "cbc-zero",
    "ctr-prefix16",
    "ctr-prefix12",
    "ctr-prefix8",
    "ctr-zero",
    "gcm",
]
LABEL = {
    "ecb": "ecb(",
    "cbc-prefix": "cbc(iv=prefix, ",
    "cbc-zero": "cbc(iv=zero, ",
    "ctr-prefix16": "ctr(counter block=16-byte prefix, ",
    "ctr-prefix12": "ctr(nonce=12-byte prefix, counter from 0, ",
    "ctr-prefix8": "ctr(nonce=8-byte prefix, counter from 0, ",
    "ctr-zero": "ctr(counter block=zero, ",
    "gcm": "gcm(nonce=12-byte prefix, tag=16-byte suffix, ",
}


def pad(data: bytes) -> bytes:
    n = 16 - len(data) % 16
    return data + bytes([n]) * n


def encrypt(mode: str, key: bytes, plain: bytes, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    iv = bytes(rng.randrange(256) for _ in range(16))
    if mode == "ecb":
        return AES.new(key, AES.MODE_ECB).encrypt(pad(plain))
    if mode == "cbc-prefix":
        return iv + AES.new(key, AES.MODE_CBC, iv=iv).encrypt(pad(plain))
    if mode == "cbc-zero":
        return AES.new(key, AES.MODE_CBC, iv=bytes(16)).encrypt(pad(plain))
    if mode == "ctr-prefix16":
        return iv + AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=iv).encrypt(plain)
    if mode == "ctr-prefix12":
        return iv[:12] + AES.new(key, AES.MODE_CTR, nonce=iv[:12], initial_value=0).encrypt(plain)
    if mode == "ctr-prefix8":
        return iv[:8] + AES.new(key, AES.MODE_CTR, nonce=iv[:8]).encrypt(plain)
    if mode == "ctr-zero":
        return AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=0).encrypt(plain)
    ct, tag = AES.new(key, AES.MODE_GCM, nonce=iv[:12]).encrypt_and_digest(plain)
    return iv[:12] + ct + tag


def sqlite_file(tmp_path: Path, value: object) -> bytes:
    path = tmp_path / "keys.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE config (id INTEGER PRIMARY KEY, name TEXT, value)")
    conn.execute("INSERT INTO config VALUES (1, 'server', 'imap.example.net')")
    conn.execute("INSERT INTO config VALUES (2, 'media_key', ?)", (value,))
    conn.commit()
    conn.close()
    return path.read_bytes()


def prefs_xml(entries: dict[str, str]) -> bytes:
    body = "".join(f'    <string name="{k}">{v}</string>\n' for k, v in entries.items())
    return (
        f"<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\n<map>\n{body}</map>\n".encode()
    )


def place(where: str, key: bytes, tmp_path: Path) -> tuple[str, bytes, str, str]:
    """(evidence path, file bytes, note in the method, form) hiding ``key``."""
    b64, hx = base64.b64encode(key).decode(), key.hex()
    if where == "xml-hex":
        data = prefs_xml({"account": "alice", "audio_key": hx})
        return f"{PKG}/shared_prefs/vvm.xml", data, '<string name="audio_key">', "hex"
    if where == "xml-base64":
        data = prefs_xml({"account": "alice", "k": b64})
        return f"{PKG}/shared_prefs/vvm.xml", data, '<string name="k">', "base64"
    if where == "plist-raw":
        data = plistlib.dumps({"cfg": {"mediaKey": key}}, fmt=plistlib.FMT_BINARY)
        return f"{PKG}/files/settings.plist", data, "plist $.cfg.mediaKey", "raw"
    if where == "plist-base64":
        data = plistlib.dumps({"cfg": {"mediaKey": b64}})
        return f"{PKG}/files/settings.plist", data, "plist $.cfg.mediaKey", "base64"
    if where == "json-hex":
        data = json.dumps({"crypto": {"v": 2, "secret": hx}}).encode()
        return f"{PKG}/files/state.json", data, "json $.crypto.secret", "hex"
    if where == "json-base64":
        data = json.dumps({"list": [{"k": b64}]}).encode()
        return f"{PKG}/files/state.json", data, "json $.list[0].k", "base64"
    if where == "sqlite-raw":
        data = sqlite_file(tmp_path, key)
        return f"{PKG}/databases/cfg.db", data, "table config rowid 2 column value", "raw"
    if where == "sqlite-hex":
        data = sqlite_file(tmp_path, hx)
        return f"{PKG}/databases/cfg.db", data, "table config rowid 2 column value", "hex"
    data = sqlite_file(tmp_path, b64)
    return f"{PKG}/databases/cfg.db", data, "table config rowid 2 column value", "base64"


PLACES = [
    "xml-hex",
    "xml-base64",
    "plist-raw",
    "plist-base64",
    "json-hex",
    "json-base64",
    "sqlite-raw",
    "sqlite-hex",
    "sqlite-base64",
]
KINDS = ["amr", "mp3", "opus", "m4a", "wav"]
CASES = [
    (mode, bits, PLACES[(i * 3 + j) % len(PLACES)], KINDS[(i + j) % len(KINDS)])
    for i, mode in enumerate(MODES)
    for j, bits in enumerate((128, 192, 256))
]


def no_key_in(records: list, key: bytes, *strings: str) -> None:
    text = repr(records) + "".join(
        f"{getattr(r, 'method', '')}{getattr(r, 'detail', '')}{getattr(r, 'message', '')}"
        for r in records
    )
    for form in (
        key.hex(),
        key.hex().upper(),
        base64.b64encode(key).decode(),
        repr(key),
        base64.urlsafe_b64encode(key).decode().rstrip("="),
        *strings,
    ):
        assert form not in text


@pytest.mark.parametrize(("mode", "bits", "where", "kind"), CASES)
def test_aes_round_trips(tmp_path, mode, bits, where, kind):
    key = bytes(random.Random(bits + len(mode)).randrange(256) for _ in range(bits // 8))
    original = sample(kind)
    stored = encrypt(mode, key, original, seed=bits)
    key_file, key_bytes, note, form = place(where, key, tmp_path)
    records = run(tmp_path, {CIPHER: stored, key_file: key_bytes})
    [rec] = audio_records(records)
    assert (rec.protection, rec.key_path, rec.path) == ("weak-encryption", key_file, CIPHER)
    how = "" if form == "raw" else f", {form}"
    assert rec.method == f"aes-{bits}-{LABEL[mode]}key from {key_file} {note}{how})"
    assert rec.decodes and rec.sha256 == sha(original) and rec.data == original
    assert (rec.offset, rec.length) == (0, len(stored))
    [finding] = [r for r in records if isinstance(r, FindingRecord)]
    assert (finding.code, finding.severity, finding.key_path) == (
        "key-beside-ciphertext",
        "high",
        key_file,
    )
    assert CIPHER in finding.detail and key_file in finding.detail
    no_key_in(records, key)


PASSWORD = "correct horse battery staple"
DERIVED = [
    ("gcm", hashlib.sha256(PASSWORD.encode()).digest(), "sha256(utf-8)", 256),
    ("cbc-prefix", hashlib.md5(PASSWORD.encode()).digest(), "md5(utf-8)", 128),
    ("ctr-prefix12", hashlib.sha256(PASSWORD.encode()).digest()[:16], "sha256(utf-8)[:16]", 128),
]


@pytest.mark.parametrize(("mode", "key", "form", "bits"), DERIVED)
def test_key_string_derivations(tmp_path, mode, key, form, bits):
    original = sample("amr")
    prefs = prefs_xml({"user": "bob", "pin_passphrase": PASSWORD})
    records = run(
        tmp_path, {CIPHER: encrypt(mode, key, original), f"{PKG}/shared_prefs/a.xml": prefs}
    )
    [rec] = audio_records(records)
    assert rec.method.startswith(f"aes-{bits}-{LABEL[mode]}")
    assert rec.method.endswith(f'<string name="pin_passphrase">, {form})')
    assert rec.sha256 == sha(original)
    no_key_in(records, key, PASSWORD)


def test_utf8_string_key(tmp_path):
    key = b"0123456789abcdef"
    original = sample("mp3")
    conf = b"# vvm\nserver = imap.example.net\naes.key = 0123456789abcdef\n"
    records = run(
        tmp_path, {CIPHER: encrypt("ecb", key, original), f"{PKG}/files/vvm.properties": conf}
    )
    [rec] = audio_records(records)
    assert rec.method == f"aes-128-ecb(key from {PKG}/files/vvm.properties entry aes.key, utf-8)"
    no_key_in(records, key, key.decode())


def decoys(n: int, seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    out = {}
    for i in range(n):
        size = (16, 24, 32)[i % 3]
        raw = bytes(rng.randrange(256) for _ in range(size))
        out[f"key_{i}"] = raw.hex() if i % 2 else base64.b64encode(raw).decode()
        out[f"password_{i}"] = f"hunter{i}-{rng.randrange(10**6)}"
    return out


def test_wrong_keys_never_decode(tmp_path):
    real = bytes(range(32))
    files = {f"{PKG}/shared_prefs/decoys.xml": prefs_xml(decoys(60, 1))}
    for i, mode in enumerate(MODES):
        files[f"{PKG}/files/vm/{i}-{mode}.enc"] = encrypt(mode, real, sample(KINDS[i % 5]), i)
    ctx = make_ctx(tmp_path, files)
    analyser = Analyser(ctx)
    records = list(analyser.run())
    audio = audio_records(records)
    assert analyser.stats["aes_candidates"] == len(MODES)
    assert analyser.stats["aes_trials"] >= len(MODES) * 60
    assert len(audio) == len(MODES)
    for rec in audio:  # a voicemail location with no working key: reported as encrypted
        assert (rec.protection, rec.decodes, rec.container, rec.codec) == (
            "encrypted",
            False,
            "raw",
            None,
        )
        assert rec.method is None and rec.key_path is None
        stored = files[rec.path]
        assert (rec.sha256, rec.size, rec.offset, rec.length) == (
            sha(stored),
            len(stored),
            0,
            len(stored),
        )
    assert not [r for r in records if isinstance(r, FindingRecord)]


def test_key_of_another_app_decrypts_without_finding(tmp_path):
    key = bytes(range(100, 116))
    original = sample("opus")
    other = "data/data/com.example.other/shared_prefs/o.xml"
    records = run(
        tmp_path, {CIPHER: encrypt("cbc-prefix", key, original), other: prefs_xml({"k": key.hex()})}
    )
    [rec] = audio_records(records)
    assert (rec.protection, rec.key_path, rec.sha256) == ("weak-encryption", other, sha(original))
    assert not [r for r in records if isinstance(r, FindingRecord)]


def test_random_outside_voicemail_locations_is_not_reported(tmp_path):
    rng = random.Random(3)
    noise = bytes(rng.randrange(256) for _ in range(8000))
    assert audio_records(run(tmp_path, {"data/data/com.example.game/files/blob": noise})) == []


def test_entropy_gate_plain_text_never_tried(tmp_path):
    text = ("A long plain text log line about nothing in particular. " * 4000).encode()
    files = {
        f"{PKG}/files/voicemail-log.txt": text,
        f"{PKG}/shared_prefs/keys.xml": prefs_xml(decoys(10, 2)),
    }
    analyser = Analyser(make_ctx(tmp_path, files))
    records = list(analyser.run())
    assert analyser.stats["aes_candidates"] == 0 and analyser.stats["aes_trials"] == 0
    assert audio_records(records) == []


def test_trial_budget_is_reported(tmp_path):
    files = {f"{PKG}/shared_prefs/decoys.xml": prefs_xml(decoys(20, 4))}
    rng = random.Random(9)
    for i in range(5):
        files[f"{PKG}/files/vm/{i}.enc"] = bytes(rng.randrange(256) for _ in range(4096))
    analyser = Analyser(make_ctx(tmp_path, files), max_trials=150)
    records = list(analyser.run())
    assert analyser.stats["aes_trials"] <= 150
    problems = [r for r in records if isinstance(r, ProblemRecord)]
    assert any("key search stopped" in p.message for p in problems)
    # every random file in the voicemail location is still reported, tried or not
    assert len(audio_records(records)) == 5


def test_key_cap_is_reported(tmp_path):
    files = {f"{PKG}/shared_prefs/decoys.xml": prefs_xml(decoys(40, 5))}
    records = list(Analyser(make_ctx(tmp_path, files), max_keys=10).run())
    assert any("were not tried" in r.message for r in records if isinstance(r, ProblemRecord))


def test_compressed_or_image_data_in_voicemail_location_is_not_encrypted(tmp_path):
    rng = random.Random(11)
    noise = bytes(rng.randrange(256) for _ in range(30000))
    files = {
        f"{PKG}/cache/photo.jpg": b"\xff\xd8\xff\xe0" + noise,
        f"{PKG}/cache/payload.z": zlib.compress(noise),
        f"{PKG}/cache/archive.zip": b"PK\x03\x04" + noise,
    }
    assert audio_records(run(tmp_path, files)) == []
