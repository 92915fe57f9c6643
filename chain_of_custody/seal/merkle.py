"""RFC 6962 Merkle tree over the payload manifest lines, with inclusion proofs.

The root goes into the signed seal. One payload file can then be disclosed with its
manifest line and log2(n) hashes, proving it belongs to the sealed bag without revealing
the other files' names or hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

MAX_DEPTH = 64


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _root_of_hashes(hashes: Sequence[bytes]) -> bytes:
    if not hashes:
        return hashlib.sha256(b"").digest()
    level = list(hashes)
    # RFC 6962's recursive definition equals this left-leaning pairing, bottom up.
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root(leaves: Sequence[bytes]) -> bytes:
    return _root_of_hashes([leaf_hash(x) for x in leaves])


def inclusion_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Audit path for leaf ``index`` (RFC 6962 section 2.1.1), leaf-side first."""
    if not 0 <= index < len(leaves):
        raise IndexError("leaf index out of range")
    hashes = [leaf_hash(x) for x in leaves]

    def path(m: int, hs: Sequence[bytes]) -> list[bytes]:
        n = len(hs)
        if n <= 1:
            return []
        k = _split(n)
        if m < k:
            return [*path(m, hs[:k]), _root_of_hashes(hs[k:])]
        return [*path(m - k, hs[k:]), _root_of_hashes(hs[:k])]

    return path(index, hashes)


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """RFC 9162 section 2.1.3.2 verification; None when the path cannot fit the tree."""
    if not 0 <= index < size or len(path) > MAX_DEPTH:
        return None
    fn, sn = index, size - 1
    r = leaf_hash(leaf)
    for p in path:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None
