"""RFC 6962 / C2SP merkle-tree hashing, proofs and their verification.

Leaf hash = SHA-256(0x00 ‖ entry), node hash = SHA-256(0x01 ‖ left ‖ right); the hash of
the empty tree is SHA-256 of nothing. :class:`MerkleTree` keeps the hash of every complete,
aligned subtree (``2n`` hashes for ``n`` leaves), so appends cost O(log n) amortised and
roots and proofs for any size up to the current one cost O(log² n) without rehashing
leaves. The verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2 and never raise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleTree",
    "leaf_hash",
    "node_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only Merkle tree over leaf hashes, with proofs for every past size."""

    def __init__(self) -> None:
        # levels[j] holds, concatenated, the hashes of complete subtrees of 2**j leaves.
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf: bytes) -> int:
        """Append a leaf hash; returns its index."""
        if len(leaf) != HASH_SIZE:
            raise ValueError("a leaf hash has 32 bytes")
        index = self._size
        self._levels[0] += leaf
        i, level, h = index, 0, leaf
        while i & 1:  # a right child completes its parent
            row = self._levels[level]
            left = bytes(row[(i - 1) * HASH_SIZE : i * HASH_SIZE])
            h = node_hash(left, h)
            level += 1
            if len(self._levels) == level:
                self._levels.append(bytearray())
            self._levels[level] += h
            i >>= 1
        self._size += 1
        return index

    def leaf(self, index: int) -> bytes:
        self._check(index + 1)
        return bytes(self._levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def _check(self, size: int) -> None:
        if not 0 <= size <= self._size:
            raise ValueError(f"tree size {size} is beyond the log's {self._size}")

    def _hash(self, lo: int, hi: int) -> bytes:
        """MTH of leaves [lo, hi); complete aligned subtrees come from storage."""
        n = hi - lo
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and lo % n == 0:
            level = n.bit_length() - 1
            j = lo >> level
            return bytes(self._levels[level][j * HASH_SIZE : (j + 1) * HASH_SIZE])
        k = _split(n)
        return node_hash(self._hash(lo, lo + k), self._hash(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        size = self._size if size is None else size
        self._check(size)
        return self._hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 PATH(index, D[0:size])."""
        size = self._size if size is None else size
        self._check(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of size {size}")
        proof: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                proof.append(self._hash(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._hash(lo, lo + k))
                lo += k
        proof.reverse()
        return proof

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """RFC 6962 PROOF(first, D[0:second]); empty when first is 0 or equal."""
        second = self._size if second is None else second
        self._check(second)
        if not 0 <= first <= second:
            raise ValueError(f"size {first} is not within size {second}")
        if first in (0, second):
            return []
        proof: list[bytes] = []
        lo, hi, whole = 0, second, True
        while first != hi:
            k = _split(hi - lo)
            if first - lo <= k:
                proof.append(self._hash(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._hash(lo, lo + k))
                lo, whole = lo + k, False
        if not whole:
            proof.append(self._hash(lo, hi))
        proof.reverse()
        return proof


def _ok_hashes(*items: object) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in items)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` put ``leaf`` at ``index`` of the tree ``root``?"""
    if not (_ok_hashes(leaf, root, *proof) and 0 <= index < size):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree ``first_root`` a prefix of the tree ``second_root``?"""
    if not (_ok_hashes(first_root, second_root, *proof) and 0 <= first <= second):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
