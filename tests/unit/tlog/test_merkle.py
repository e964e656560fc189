"""RFC 6962 Merkle tree: reference vectors, and proofs for every size against the RFC's
own recursive definitions (written out here, independently of the implementation)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vanfed.tlog._merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "merkle_rfc6962.json").read_text())


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH over leaf hashes."""
    if not d:
        return EMPTY_ROOT
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return node_hash(mth(d[:k]), mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(m, D[n])."""
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], whole: bool) -> list[bytes]:
    """RFC 6962 §2.1.2 SUBPROOF(m, D[n], b)."""
    if m == len(d):
        return [] if whole else [mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*subproof(m, d[:k], whole), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def tree_of(n: int) -> tuple[MerkleTree, list[bytes]]:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    tree = MerkleTree()
    for leaf in leaves:
        tree.append(leaf)
    return tree, leaves


@pytest.fixture(scope="module")
def reference() -> tuple[MerkleTree, list[bytes]]:
    tree = MerkleTree()
    leaves = [leaf_hash(bytes.fromhex(e)) for e in VECTORS["entries_hex"]]
    for leaf in leaves:
        tree.append(leaf)
    return tree, leaves


def test_reference_roots(reference) -> None:
    tree, _ = reference
    assert [tree.root(n).hex() for n in range(9)] == VECTORS["roots_by_size"]


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}/{c['size']}")
def test_reference_inclusion(reference, case) -> None:
    tree, leaves = reference
    proof = tree.inclusion_proof(case["index"], case["size"])
    assert [p.hex() for p in proof] == case["proof"]
    root = bytes.fromhex(VECTORS["roots_by_size"][case["size"]])
    assert verify_inclusion(leaves[case["index"]], case["index"], case["size"], proof, root)


@pytest.mark.parametrize(
    "case", VECTORS["consistency"], ids=lambda c: f"{c['first']}-{c['second']}"
)
def test_reference_consistency(reference, case) -> None:
    tree, _ = reference
    proof = tree.consistency_proof(case["first"], case["second"])
    assert [p.hex() for p in proof] == case["proof"]
    roots = VECTORS["roots_by_size"]
    first, second = bytes.fromhex(roots[case["first"]]), bytes.fromhex(roots[case["second"]])
    assert verify_consistency(case["first"], case["second"], first, second, proof)


@given(st.integers(1, 70), st.data())
def test_inclusion_proofs_match_the_rfc_and_verify(n: int, data: st.DataObject) -> None:
    tree, leaves = tree_of(n)
    size = data.draw(st.integers(1, n), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = tree.inclusion_proof(index, size)
    assert tree.root(size) == mth(leaves[:size])
    assert proof == path(index, leaves[:size])
    root = tree.root(size)
    assert verify_inclusion(leaves[index], index, size, proof, root)
    # Any altered proof fails: another leaf, index or root, a flipped bit, a dropped or
    # extra hash.
    assert not verify_inclusion(leaf_hash(b"other"), index, size, proof, root)
    if size > 1:
        assert not verify_inclusion(leaves[index], (index + 1) % size, size, proof, root)
    # (The size alone is not bound by a proof: leaf 0 of 3 and of 4 share a path. A
    # checkpoint signs size and root together, which is what binds it.)
    if size < n:
        assert not verify_inclusion(leaves[index], index, size + 1, proof, tree.root(size + 1))
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        assert not verify_inclusion(leaves[index], index, size, bad, root)
    if proof:
        assert not verify_inclusion(leaves[index], index, size, proof[:-1], root)
    assert not verify_inclusion(leaves[index], index, size, [*proof, EMPTY_ROOT], root)


@given(st.integers(1, 70), st.data())
def test_consistency_proofs_match_the_rfc_and_verify(n: int, data: st.DataObject) -> None:
    tree, leaves = tree_of(n)
    second = data.draw(st.integers(1, n), label="second")
    first = data.draw(st.integers(1, second), label="first")
    proof = tree.consistency_proof(first, second)
    expected = subproof(first, leaves[:second], True) if first < second else []
    assert proof == expected
    r1, r2 = tree.root(first), tree.root(second)
    assert verify_consistency(first, second, r1, r2, proof)
    assert not verify_consistency(first, second, r2 if r1 != r2 else EMPTY_ROOT, r2, proof)
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        assert not verify_consistency(first, second, r1, r2, bad)
    if proof:
        assert not verify_consistency(first, second, r1, r2, proof[:-1])
        if second < n:
            assert not verify_consistency(first, second + 1, r1, tree.root(second + 1), proof)
    assert not verify_consistency(first, second, r1, r2, [*proof, EMPTY_ROOT])


def test_degenerate_cases_and_bad_arguments() -> None:
    tree, leaves = tree_of(8)
    assert tree.root(0) == EMPTY_ROOT
    assert verify_consistency(0, 8, EMPTY_ROOT, tree.root(), [])
    assert not verify_consistency(0, 8, tree.root(1), tree.root(), [])
    assert verify_consistency(4, 4, tree.root(4), tree.root(4), [])
    assert not verify_consistency(4, 4, tree.root(4), tree.root(5), [])
    assert not verify_consistency(6, 8, tree.root(6), tree.root(8), [])
    assert not verify_consistency(8, 6, tree.root(8), tree.root(6), [])
    assert not verify_inclusion(leaves[0], 8, 8, [], tree.root())
    assert not verify_inclusion(leaves[0][:31], 0, 1, [], leaves[0][:31])
    with pytest.raises(ValueError, match="beyond"):
        tree.root(9)
    with pytest.raises(ValueError, match="not in a tree"):
        tree.inclusion_proof(8, 8)
    with pytest.raises(ValueError, match="not within"):
        tree.consistency_proof(5, 3)
