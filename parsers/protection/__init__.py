"""Audio under weak protection, recovered from one source's stored files.

The application calls :func:`analyse` once per source, after storing it. It reads every
stored file once: structured files (SQLite, plists, XML, JSON, config files) are walked
value by value, for key material and for encoded or embedded audio in cells and values;
every other file that the carver does not already explain (an audio object at offset 0)
is tried, in this order, as encoded (base64, hex, zlib, gzip, raw deflate, base64 of a
compressed stream), as junk-prefixed audio, and as XOR-obfuscated audio. The files and
blobs left that look random are AES candidates: every key found in the same source is
tried on them (same app's keys first), within a bounded number of trials. Random-looking
data left in a voicemail location is reported as ``encrypted``.

Records carry the stored place (``path``, ``offset``/``length`` of the protected bytes,
or ``locator`` for a cell or value), the recovered audio (``data``, ``sha256``, ``size``),
``protection``, ``method`` and ``key_path``. Key values are never put in any record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

from parsers.apps import package_of
from parsers.audio.carve import Hit, to_record
from parsers.base import Context, Item
from parsers.protection import aes, encodings, prefix, xor
from parsers.protection.common import (
    MAX_BYTES,
    compressed,
    explained,
    high_entropy,
    known_other_format,
    printable_ratio,
    recovered,
    starts_with_audio,
    voicemail_location,
)
from parsers.protection.keyhunt import MAX_KEYS, KeyRing
from parsers.protection.values import MAX_STRUCTURED, Value, ValueError_, kind_of, walk
from parsers.records import AudioRecord, FindingRecord, ProblemRecord

__all__ = ["Analyser", "analyse"]

Record = AudioRecord | FindingRecord | ProblemRecord
STAGE = "recover"  # the schema's stage for undoing weak protection
MAX_BLOB_CANDIDATES = 64 << 20  # bytes of SQLite/plist blobs kept for the AES pass


def analyse(ctx: Context) -> Iterator[Record]:
    """Every protected audio object of the source behind ``ctx`` (plus findings, problems)."""
    yield from Analyser(ctx).run()


@dataclass
class _Candidate:
    path: str
    locator: str | None
    head: bytes
    size: int
    item: Item | None = None
    blob: bytes | None = None

    def read(self) -> bytes:
        if self.blob is not None:
            return self.blob
        assert self.item is not None
        with self.item.open() as f:
            return f.read(min(self.item.size, MAX_BYTES) + 1)


def _audio(
    path: str,
    hit: Hit,
    data: bytes,
    *,
    offset: int | None,
    length: int,
    protection: str,
    method: str | None,
    locator: str | None = None,
    key_path: str | None = None,
) -> AudioRecord:
    return replace(
        to_record(hit, path, locator=locator),
        offset=offset,  # None for a cell or value (the locator says where)
        length=length,
        protection=protection,
        method=method,
        key_path=key_path,
        data=data[: hit.length],
    )


class Analyser:
    """One run over one source; ``stats`` counts what was tried (for tests and reports)."""

    def __init__(
        self, ctx: Context, *, max_keys: int = MAX_KEYS, max_trials: int = aes.MAX_TRIALS
    ) -> None:
        self.ctx = ctx
        self.ring = KeyRing(max_keys)
        self.max_trials = max_trials
        self.candidates: list[_Candidate] = []
        self.blob_bytes = 0
        self.stats: Counter[str] = Counter()

    def run(self) -> Iterator[Record]:
        for item in self.ctx.glob("*"):
            try:
                yield from self._item(item)
            except OSError as exc:
                yield ProblemRecord(item.path, STAGE, f"cannot read stored copy: {exc}")
            except Exception as exc:  # one hostile file must not end the source's checks
                yield ProblemRecord(
                    item.path, STAGE, f"weak-protection check failed: {type(exc).__name__}: {exc}"
                )
        try:
            yield from self._aes_pass()
        except Exception as exc:
            yield ProblemRecord("", STAGE, f"key search failed: {type(exc).__name__}: {exc}")

    # --- pass 1: every stored file ----------------------------------------------------

    def _item(self, item: Item) -> Iterator[Record]:
        if item.size == 0:
            return
        with item.open() as f:
            head = f.read(512)
        kind = kind_of(item, head)
        if kind == "sqlite" or (kind is not None and item.size <= MAX_STRUCTURED):
            data = None if kind == "sqlite" else self._read(item)
            found = 0
            try:
                for value in walk(item, kind, data, self.ctx):
                    found += 1
                    self.ring.add_value(value)
                    yield from self._value(value)
            except ValueError_ as exc:
                yield ProblemRecord(item.path, STAGE, str(exc))
            self.stats["structured"] += 1
            if found or kind in ("sqlite", "plist"):
                return
        if item.size > MAX_BYTES:
            yield ProblemRecord(
                item.path,
                STAGE,
                f"{item.size} bytes: above the {MAX_BYTES}-byte bound for weak-protection "
                "checks (carved only)",
            )
            return
        data = self._read(item)
        if explained(data):
            self.stats["explained"] += 1
            return
        yield from self._file(item, data)

    @staticmethod
    def _read(item: Item) -> bytes:
        with item.open() as f:
            return f.read(min(item.size, MAX_BYTES) + 1)

    def _file(self, item: Item, data: bytes) -> Iterator[Record]:
        path = item.path
        self.stats["files"] += 1
        other = known_other_format(data)
        if other and not data.startswith(b"\x1f\x8b"):
            return  # an image, archive, database...: only gzip may hide audio here
        try:
            for dec in encodings.decodings(data):
                hit = recovered(dec.data)
                if hit is not None:
                    yield _audio(
                        path,
                        hit,
                        dec.data,
                        offset=0,
                        length=len(data),
                        protection="encoded",
                        method=dec.method,
                    )
                    return
        except encodings.Bomb as exc:
            yield ProblemRecord(path, STAGE, f"compressed stream not expanded: {exc}", offset=0)
            return
        if printable_ratio(data[:4096]) > 0.9:
            runs = list(self._runs(path, data, None))
            if runs:
                yield from runs
                return
        found = prefix.recover(data)
        if found is not None:
            n, hit = found
            rec = _audio(
                path,
                hit,
                data[n:],
                offset=n,
                length=hit.length,
                protection="obfuscated",
                method=f"prefix(n={n})",
            )
            rec.data = None  # a plain slice of the stored file
            yield rec
            return
        if other or starts_with_audio(data):
            return  # plain audio followed by more: the carver reports what is there
        self.stats["xor_tried"] += 1
        rec_x = xor.recover(data)
        if rec_x is not None:
            yield _audio(
                path,
                rec_x.hit,
                rec_x.data,
                offset=0,
                length=len(data),
                protection="obfuscated",
                method=rec_x.method,
            )
            return
        if aes.MIN_SIZE <= len(data) <= MAX_BYTES and high_entropy(data) and not compressed(data):
            self.candidates.append(_Candidate(path, None, data[: aes.HEAD], len(data), item=item))

    def _value(self, value: Value) -> Iterator[Record]:
        v = value.value
        size = len(v) if isinstance(v, bytes) else len(v.encode("utf-8", "replace"))
        if size < encodings.MIN_TEXT:
            return
        if isinstance(v, bytes):
            hit = recovered(v)
            if hit is not None:
                yield _audio(
                    value.path,
                    hit,
                    v,
                    offset=None,
                    length=size,
                    protection="none",
                    method=None,
                    locator=value.locator,
                )
                return
        try:
            for dec in encodings.decodings(v):
                hit = recovered(dec.data)
                if hit is not None:
                    yield _audio(
                        value.path,
                        hit,
                        dec.data,
                        offset=None,
                        length=size,
                        protection="encoded",
                        method=dec.method,
                        locator=value.locator,
                    )
                    return
        except encodings.Bomb as exc:
            yield ProblemRecord(
                value.path, STAGE, f"compressed value not expanded: {exc}", locator=value.locator
            )
            return
        if isinstance(v, str) and size >= encodings.MIN_RUN:
            runs = list(self._runs(value.path, v, value.locator))
            if runs:
                yield from runs
                return
        if (
            isinstance(v, bytes)
            and size >= aes.MIN_SIZE
            and self.blob_bytes + size <= MAX_BLOB_CANDIDATES
            and high_entropy(v)
            and not known_other_format(v)
            and not compressed(v)
            and not starts_with_audio(v)
        ):
            self.blob_bytes += size
            self.candidates.append(
                _Candidate(value.path, value.locator, v[: aes.HEAD], size, blob=v)
            )

    def _runs(self, path: str, text: bytes | str, locator: str | None) -> Iterator[Record]:
        """Audio in base64/hex runs inside a text; ``offset`` is the run's place in the file,
        or in the located value (character offset in a text value)."""
        try:
            for start, length, dec in encodings.embedded(text):
                hit = recovered(dec.data)
                if hit is None:
                    continue
                yield _audio(
                    path,
                    hit,
                    dec.data,
                    offset=start,
                    length=length,
                    protection="encoded",
                    method=dec.method,
                    locator=locator,
                )
        except encodings.Bomb as exc:
            yield ProblemRecord(path, STAGE, f"compressed run not expanded: {exc}", locator=locator)

    # --- pass 2: keys against random-looking data ---------------------------------------

    def _aes_pass(self) -> Iterator[Record]:
        owners = {pkg for c in self.candidates if (pkg := package_of(c.path))}
        keys = self.ring.keys(owners)
        if self.ring.dropped:
            yield ProblemRecord(
                "",
                STAGE,
                f"{self.ring.dropped} candidate keys beyond the first {self.ring.limit} "
                "(ranked by name and form) were not tried",
            )
        cands = self.candidates
        self.stats["aes_candidates"] = len(cands)
        if not cands:
            return
        per_key = len(cands)
        usable = keys[: max(0, self.max_trials // per_key)]
        self.stats["aes_keys"] = len(usable)
        self.stats["aes_trials"] = len(usable) * per_key
        batch = aes.Batch([(c.head, c.size) for c in cands])
        solved = aes.search(batch, usable, lambda i: cands[i].read())
        if len(usable) < len(keys):
            yield ProblemRecord(
                "",
                STAGE,
                f"key search stopped after {len(usable) * per_key} key trials: "
                f"{len(keys) - len(usable)} of {len(keys)} keys were not tried on "
                f"{per_key} random-looking files or blobs",
            )
        for i, cand in enumerate(cands):
            found = solved.get(i)
            if found is not None:
                yield from self._decrypted(cand, cand.read(), found)
            elif cand.locator is None and voicemail_location(cand.path):
                yield AudioRecord(
                    path=cand.path,
                    offset=0,
                    length=cand.size,
                    container="raw",
                    codec=None,
                    sha256=cand.item.sha256 if cand.item else "",
                    size=cand.size,
                    decodes=False,
                    truncated=False,
                    duration_s=None,
                    protection="encrypted",
                    method=None,
                )

    def _decrypted(self, cand: _Candidate, data: bytes, found: aes.Recovery) -> Iterator[Record]:
        key = found.key
        yield _audio(
            cand.path,
            found.hit,
            found.data,
            offset=None if cand.locator else 0,
            length=len(data),
            protection="weak-encryption",
            method=found.method,
            locator=cand.locator,
            key_path=key.path,
        )
        pkg = package_of(cand.path)
        if pkg is not None and key.package == pkg:
            where = cand.path + (f" ({cand.locator})" if cand.locator else "")
            yield FindingRecord(
                path=cand.path,
                code="key-beside-ciphertext",
                title="Encrypted voicemail audio with its key in the same app's storage",
                detail=(
                    f"The audio at {where} decrypts with a key stored by the same app at "
                    f"{key.path} {key.note} ({key.form}); anyone holding this storage can "
                    "play it."
                ),
                severity="high",
                locator=cand.locator,
                offset=None if cand.locator else 0,
                key_path=key.path,
                package=pkg,
            )
