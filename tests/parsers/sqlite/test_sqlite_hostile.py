"""Corrupt and hostile input: loops, truncation, garbage, fuzzing, and bounded memory.

Every case must end (pytest-timeout guards against hangs) with problems reported as
values, never an exception escaping ``recover()``.
"""

from __future__ import annotations

import io
import random
import struct
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlite_builders import TRANSCRIPT_SQL, connect, make_voicemail_db

from parsers.sqlite import btree
from parsers.sqlite.carve import Carver
from parsers.sqlite.errors import SqliteFormatError
from parsers.sqlite.formats import Varint, encode_varint
from parsers.sqlite.record import decode_record, read_varint
from parsers.sqlite.recover import RecoveredRow, SqliteProblem, live_rows, recover
from parsers.sqlite.schema import parse_create_table

pytestmark = pytest.mark.timeout(30)
PAGE = 4096


def patch(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def split(items):
    rows = [i for i in items if isinstance(i, RecoveredRow)]
    problems = [i for i in items if isinstance(i, SqliteProblem)]
    assert len(rows) + len(problems) == len(items)
    return rows, problems


def header_field(path: Path, offset: int) -> int:
    with open(path, "rb") as f:
        f.seek(offset)
        return int.from_bytes(f.read(4), "big")


def db_with_freelist(tmp_path: Path) -> Path:
    db = tmp_path / "free.db"
    con = connect(db, secure_delete=False)
    con.execute("CREATE TABLE keep (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO keep VALUES (1, 'stays')")
    con.execute("CREATE TABLE gone (id INTEGER PRIMARY KEY, caller TEXT NOT NULL)")
    con.execute("BEGIN")
    for i in range(300):
        con.execute("INSERT INTO gone VALUES (?, ?)", (i, f"+1555{i:07d}"))
    con.execute("COMMIT")
    con.execute("DROP TABLE gone")
    con.close()
    return db


def test_freelist_trunk_loop_is_a_problem_not_a_hang(tmp_path: Path) -> None:
    db = db_with_freelist(tmp_path)
    trunk = header_field(db, 32)
    assert trunk and header_field(db, 36) > 1
    patch(db, (trunk - 1) * PAGE, struct.pack(">I", trunk))  # next trunk = itself
    rows, problems = split(list(recover(db)))
    assert any("loops" in p.message for p in problems)
    assert any(r.table == "gone" for r in rows)  # the pages are still searched


def test_freelist_leaf_count_lie_and_bad_leaf_numbers(tmp_path: Path) -> None:
    db = db_with_freelist(tmp_path)
    trunk = header_field(db, 32)
    patch(db, (trunk - 1) * PAGE + 4, struct.pack(">I", 0xFFFFFFFF))
    patch(db, (trunk - 1) * PAGE + 8, struct.pack(">II", 0, 0x7FFFFFFF))
    _rows, problems = split(list(recover(db)))
    assert any("claims" in p.message for p in problems)
    assert any("bad leaf" in p.message for p in problems)


def test_overflow_chain_loop(tmp_path: Path) -> None:
    db = tmp_path / "ovf.db"
    con = connect(db, secure_delete=True)
    con.execute(TRANSCRIPT_SQL)
    con.execute("INSERT INTO transcript VALUES (1, 1, ?, NULL)", ("x" * 20000,))
    con.execute("INSERT INTO transcript VALUES (2, 2, 'short', NULL)")
    con.close()
    # the row's overflow pages follow its leaf; point the first one back at itself
    raw = db.read_bytes()
    first = None
    for number in range(2, len(raw) // PAGE + 1):
        page = raw[(number - 1) * PAGE : number * PAGE]
        if page[4:8] == b"xxxx" and first is None:
            first = number
    assert first is not None
    patch(db, (first - 1) * PAGE, struct.pack(">I", first))
    rows, problems = split(list(live_rows(db)))
    assert any("loops" in p.message for p in problems)
    assert [r.values for r in rows if r.table == "transcript"] == [[2, 2, "short", None]]
    split(list(recover(db)))


def test_btree_child_loop(tmp_path: Path) -> None:
    db = tmp_path / "loop.db"
    con = make_voicemail_db(db, rows=300, secure_delete=True)
    con.close()
    root = 2
    page = db.read_bytes()[(root - 1) * PAGE : root * PAGE]
    assert page[0] == btree.INTERIOR_TABLE
    patch(db, (root - 1) * PAGE + 8, struct.pack(">I", root))  # right child = itself
    rows, problems = split(list(recover(db, include_live=True)))
    assert any("referenced twice" in p.message for p in problems)
    assert any(r.table == "voicemail" for r in rows)


def test_truncated_database_keeps_what_is_there(tmp_path: Path) -> None:
    db = tmp_path / "trunc.db"
    con = make_voicemail_db(db, rows=300, secure_delete=True)
    con.close()
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.truncate(size - PAGE - 100)
    rows, problems = split(list(recover(db, include_live=True)))
    assert problems and any("past the end" in p.message for p in problems)
    live = [r for r in rows if r.table == "voicemail"]
    assert 0 < len(live) < 300


@pytest.mark.parametrize(
    "content",
    [b"", b"SQLite format 3\x00", b"\x00" * 5000, random.Random(1).randbytes(9000)],
    ids=["empty", "magic-only", "zeros", "random"],
)
def test_garbage_files_give_one_problem(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(content)
    rows, problems = split(list(recover(path, path)))
    assert rows == []
    assert len(problems) >= 1
    assert all(isinstance(p.message, str) and p.message for p in problems)


def test_valid_header_then_random_pages(tmp_path: Path) -> None:
    db = tmp_path / "mixed.db"
    con = make_voicemail_db(db, rows=200, secure_delete=True)
    con.close()
    raw = bytearray(db.read_bytes())
    rng = random.Random(7)
    for number in range(2, len(raw) // PAGE + 1):
        if number % 2:
            raw[(number - 1) * PAGE : number * PAGE] = rng.randbytes(PAGE)
    db.write_bytes(bytes(raw))
    split(list(recover(db, include_live=True)))


def test_wal_with_a_corrupted_frame_uses_the_last_good_commit(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    con = connect(db, secure_delete=True, journal_mode="wal")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("INSERT INTO t VALUES (1, 'first')")
    con.execute("INSERT INTO t VALUES (2, 'second')")
    wal_bytes = db.with_name("w.db-wal").read_bytes()
    db_bytes = db.read_bytes()
    con.close()
    image = tmp_path / "image"
    image.mkdir()
    (image / "w.db").write_bytes(db_bytes)
    frame = 24 + PAGE
    assert (len(wal_bytes) - 32) // frame == 2
    bad = bytearray(wal_bytes)
    bad[32 + frame + 24 + 100] ^= 0xFF  # damage the second frame's page
    (image / "w.db-wal").write_bytes(bytes(bad))
    rows, _problems = split(list(live_rows(image / "w.db", image / "w.db-wal")))
    assert [r.values for r in rows if r.table == "t"] == [[1, "first"]]
    found, _ = split(list(recover(image / "w.db", image / "w.db-wal")))
    assert [r.values for r in found] == [[2, "second"]]  # from the frame SQLite rejects
    assert found[0].recovered == "wal" and found[0].confidence < 0.95


# -- fuzzing ---------------------------------------------------------------------------

TABLES = [
    parse_create_table("voicemail", 2, "CREATE TABLE voicemail (a INTEGER, b TEXT, c BLOB)"),
    parse_create_table("t", 3, "CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT NOT NULL)"),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=0, max_size=4096), st.sampled_from([0, 100]))
def test_page_parser_raises_only_its_own_error(data: bytes, offset: int) -> None:
    page = data.ljust(512, b"\x00") if len(data) < 512 else data
    usable = len(page)
    try:
        hdr = btree.parse_header(page, offset, usable)
    except SqliteFormatError:
        hdr = None
    if hdr is not None:
        cells = [c for c in btree.parse_cells(page, hdr, usable) if isinstance(c, btree.Cell)]
        btree.freeblocks(page, hdr, usable)
        btree.free_regions(hdr, cells, usable, hdr.pointers_end)
    carver = Carver(usable, 1, TABLES)
    for found in carver.scan(page, 0, usable, "voicemail"):
        assert found.offset < found.end <= usable + 4


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([1, 2, 3]))
def test_record_decoder_raises_only_its_own_error(payload: bytes, encoding: int) -> None:
    try:
        types, values = decode_record(payload, encoding)
    except SqliteFormatError:
        return
    assert len(types) == len(values)


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_varint_construct_and_fast_reader_agree(value: int) -> None:
    raw = encode_varint(value)
    assert 1 <= len(raw) <= 9
    assert Varint.parse(raw) == value
    assert read_varint(raw, 0) == (value, len(raw))
    assert Varint.build(value) == raw


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=100, max_size=3 * PAGE))
def test_recover_on_fuzzed_database_bytes(tmp_path_factory, tail: bytes) -> None:
    header = bytearray(100)
    header[:16] = b"SQLite format 3\x00"
    header[16:18] = (1024).to_bytes(2, "big")
    header[18:24] = bytes([1, 1, 0, 64, 32, 32])
    data = bytes(header) + tail
    split(list(recover(io.BytesIO(data), io.BytesIO(tail), io.BytesIO(tail))))


# -- bounded memory --------------------------------------------------------------------


class ReadRecorder(io.RawIOBase):
    """A file wrapper that remembers the largest single read."""

    def __init__(self, path: Path) -> None:
        self._f = open(path, "rb")
        self.max_read = 0
        self.total = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def read(self, size: int = -1) -> bytes:
        assert size is not None and size >= 0, "a whole-file read"
        self.max_read = max(self.max_read, size)
        data = self._f.read(size)
        self.total += len(data)
        return data

    def close(self) -> None:
        self._f.close()
        super().close()


@pytest.fixture(scope="module")
def big_wal_db(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("big")
    db = folder / "big.db"
    con = connect(db, secure_delete=False, journal_mode="wal")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute(TRANSCRIPT_SQL)
    con.execute("BEGIN")
    rng = random.Random(3)
    for i in range(1, 1201):
        text = " ".join(
            rng.choice(["call", "me", "back", "about", "the", "invoice"]) for _ in range(500)
        )
        con.execute("INSERT INTO transcript VALUES (?,?,?,?)", (i, i, text, None))
    con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("DELETE FROM transcript WHERE id % 7 = 0")
    con.execute("UPDATE transcript SET text = 'redacted' WHERE id % 11 = 0")
    wal = db.with_name("big.db-wal")
    image = folder / "image"
    image.mkdir()
    (image / "big.db").write_bytes(db.read_bytes())
    (image / "big.db-wal").write_bytes(wal.read_bytes())
    con.close()
    return image / "big.db", image / "big.db-wal"


def test_reads_are_page_sized_on_a_multi_megabyte_database(big_wal_db) -> None:
    db_path, wal_path = big_wal_db
    assert db_path.stat().st_size > 3_000_000 and wal_path.stat().st_size > 100_000
    db, wal = ReadRecorder(db_path), ReadRecorder(wal_path)
    rows, problems = split(list(recover(db, wal)))
    assert problems == []
    assert db.max_read <= PAGE and wal.max_read <= PAGE + 24
    deleted = {r.values[0] for r in rows if r.table == "transcript" and r.values[0] is not None}
    assert len(rows) > 150
    assert deleted  # rows from pages only the db file still holds
    db.close()
    wal.close()


@pytest.fixture(scope="module")
def blob_db(tmp_path_factory) -> Path:
    """Voicemail-sized blobs: most bytes sit in overflow pages, deleted ones zeroed."""
    db = tmp_path_factory.mktemp("blobs") / "audio.db"
    con = connect(db, secure_delete=True)
    con.execute("CREATE TABLE audio (id INTEGER PRIMARY KEY, name TEXT, data BLOB)")
    rng = random.Random(5)
    con.execute("BEGIN")
    for i in range(1, 301):
        con.execute("INSERT INTO audio VALUES (?,?,?)", (i, f"msg{i}.amr", rng.randbytes(16000)))
    con.execute("COMMIT")
    con.execute("DELETE FROM audio WHERE id % 3 = 0")
    con.close()
    return db


def test_memory_stays_bounded(blob_db: Path) -> None:
    size = blob_db.stat().st_size
    assert size > 4_000_000
    tracemalloc.start()
    live = 0
    for item in recover(blob_db, include_live=False):
        assert not isinstance(item, SqliteProblem)
    for item in live_rows(blob_db):
        live += isinstance(item, RecoveredRow) and item.table == "audio"
        del item
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert live == 200
    assert peak < 2_000_000 < size // 2  # a few pages and one row at a time, never the file
