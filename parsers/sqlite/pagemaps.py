"""Compact per-page bookkeeping, so that memory grows by bytes per page, not objects.

A 1 GiB database has 262,144 pages of 4 KiB; Python sets and dicts of page numbers
would cost tens of megabytes, these cost one or two bytes per page. The Bloom filter
remembers live rows in a fixed number of bits per page instead of one object per row.
"""

from __future__ import annotations

import hashlib
from array import array


class PageBitmap:
    """A set of page numbers in 1..size (numbers outside are kept in a small overflow set)."""

    def __init__(self, size: int) -> None:
        self._bits = bytearray(size // 8 + 1)
        self._size = size
        self._extra: set[int] = set()

    def add(self, number: int) -> None:
        if 0 <= number <= self._size:
            self._bits[number >> 3] |= 1 << (number & 7)
        else:
            self._extra.add(number)

    def __contains__(self, number: object) -> bool:
        if not isinstance(number, int):
            return False
        if 0 <= number <= self._size:
            return bool(self._bits[number >> 3] & (1 << (number & 7)))
        return number in self._extra

    def __ior__(self, numbers) -> PageBitmap:
        for n in numbers:
            self.add(n)
        return self


class PageOwners:
    """Which b-tree each page belongs to, as a 16-bit index into a list of names."""

    def __init__(self, size: int) -> None:
        self._idx = array("H", bytes(2 * (size + 1)))
        self._size = size
        self._names: list[str] = [""]
        self._lookup: dict[str, int] = {}

    def __setitem__(self, number: int, name: str) -> None:
        if not 0 < number <= self._size:
            return
        i = self._lookup.get(name)
        if i is None:
            if len(self._names) >= 0xFFFF:
                return
            i = self._lookup[name] = len(self._names)
            self._names.append(name)
        self._idx[number] = i

    def get(self, number: int, default: str | None = None) -> str | None:
        if 0 < number <= self._size and self._idx[number]:
            return self._names[self._idx[number]]
        return default

    def __contains__(self, number: object) -> bool:
        return isinstance(number, int) and self.get(number) is not None

    def __getitem__(self, number: int) -> str:
        name = self.get(number)
        if name is None:
            raise KeyError(number)
        return name

    def numbers(self):
        for n in range(1, self._size + 1):
            if self._idx[n]:
                yield n


class Bloom:
    """A scalable Bloom filter: no false negatives, about 1e-5 false positives.

    Each stage holds 32 bits per key with 8 probes; when a stage is full a new one of
    twice the capacity is added, so memory follows the number of keys (4 bytes each)
    without knowing it in advance.
    """

    BITS_PER_KEY = 32
    PROBES = 8

    def __init__(self, capacity: int = 1 << 14) -> None:
        self._stages: list[tuple[bytearray, int]] = []
        self._count = 0
        self._capacity = 0
        self._next = max(1024, capacity)

    def _grow(self) -> None:
        bits = 1 << (self._next * self.BITS_PER_KEY - 1).bit_length()
        self._stages.append((bytearray(bits // 8), bits - 1))
        self._capacity += self._next
        self._next *= 2

    @classmethod
    def _probes(cls, key: bytes) -> list[int]:
        digest = hashlib.blake2b(key, digest_size=4 * cls.PROBES).digest()
        return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, len(digest), 4)]

    def add(self, key: bytes) -> None:
        if self._count >= self._capacity:
            self._grow()
        self._count += 1
        buf, mask = self._stages[-1]
        for p in self._probes(key):
            p &= mask
            buf[p >> 3] |= 1 << (p & 7)

    def __contains__(self, key: bytes) -> bool:
        probes = self._probes(key)
        for buf, mask in self._stages:
            if all(buf[(p & mask) >> 3] & (1 << (p & mask & 7)) for p in probes):
                return True
        return False
