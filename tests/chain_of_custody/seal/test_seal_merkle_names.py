"""RFC 6962 Merkle tree and the safe payload names."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from chain_of_custody.seal import merkle
from chain_of_custody.seal.names import SafeNamer, safe_component


def _reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, written exactly as the recursive definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(
        b"\x01" + _reference_root(leaves[:k]) + _reference_root(leaves[k:])
    ).digest()


def test_known_vectors():
    # RFC 6962 empty tree hash, and a one-leaf tree is the leaf hash with the 0x00 prefix.
    assert merkle.root([]).hex() == hashlib.sha256(b"").hexdigest()
    assert merkle.root([b""]).hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=40), st.data())
def test_root_and_inclusion_proofs(leaves, data):
    root = merkle.root(leaves)
    assert root == _reference_root(leaves)
    i = data.draw(st.integers(0, len(leaves) - 1))
    path = merkle.inclusion_path(leaves, i)
    assert merkle.root_from_path(leaves[i], i, len(leaves), path) == root
    assert merkle.root_from_path(leaves[i] + b"x", i, len(leaves), path) != root
    if len(leaves) > 1:
        j = (i + 1) % len(leaves)
        assert (
            merkle.root_from_path(leaves[i], j, len(leaves), path) != root or leaves[i] == leaves[j]
        )


def test_bad_proof_shapes_are_rejected():
    leaves = [b"a", b"b", b"c"]
    path = merkle.inclusion_path(leaves, 0)
    assert merkle.root_from_path(b"a", 5, 3, path) is None
    assert merkle.root_from_path(b"a", 0, 3, path + path) is None


def test_safe_names_use_the_safe_alphabet_only():
    for raw in ["a%0Ab.amr", "x\ny", "back\\slash", "été/voix.m4a", "..", ".hidden", "a:b*c?"]:
        out = safe_component(raw)
        assert out and set(out) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
        )
        assert out not in (".", "..") and not out.startswith(".")


def test_names_unique_case_insensitively_and_against_folders():
    n = SafeNamer()
    a = n.name("Voicemail/1.amr")
    b = n.name("voicemail/1.AMR")
    c = n.name("Voicemail/1.amr/x")  # a file below a name already used by a file
    d = n.name("Voicemail")  # a file named like an existing folder
    names = [a, b, c, d]
    assert len({x.lower() for x in names}) == 4
    assert b == "voicemail/1_2.AMR"
    assert not any(x.lower().startswith(a.lower() + "/") for x in names)
