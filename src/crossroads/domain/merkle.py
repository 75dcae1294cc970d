"""The audit log's Merkle tree (RFC 9162 §2.1): roots, inclusion proofs and consistency proofs.

The hashing and the verification of proofs live in `crossroads.verifier`, which auditors use on
their own; this module is the log's side, which makes the proofs.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..verifier import EMPTY_ROOT, node_hash


def _split(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1), where RFC 9162 splits a tree of n."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only Merkle tree over leaf hashes that keeps the hash of every complete subtree.

    Level h holds the hashes of the aligned subtrees of 2**h leaves, about 2n hashes in all. Any
    subtree the RFC's recursion names is then at most log2(n) of them combined, so a root, an
    inclusion proof or a consistency proof costs O(log² n) hashes at any size of the log, and a
    tree head of an earlier size can be recomputed without replaying the entries after it.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for leaf in leaf_hashes:
            self.append(leaf)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, leaf: bytes) -> int:
        """Add a leaf hash; return its index."""
        index = len(self._levels[0])
        self._levels[0].append(leaf)
        level, position = 0, index
        while position & 1:  # this leaf completes a pair at `level`: its parent is now complete
            pair = self._levels[level]
            if len(self._levels) == level + 1:
                self._levels.append([])
            self._levels[level + 1].append(node_hash(pair[position - 1], pair[position]))
            level, position = level + 1, position >> 1
        return index

    def leaf(self, index: int) -> bytes:
        return self._levels[0][index]

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the tree of the first `size` leaves (all of them by default)."""
        return self._subtree(0, self._size(size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1."""
        size = self._size(size)
        if not 0 <= index < size:
            raise IndexError(f"index {index} is outside a tree of {size} entries")
        return self._path(index, 0, size)

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[0:size]) of RFC 9162 §2.1.4.1 (empty when either tree is empty or they are equal)."""
        size = self._size(size)
        if not 0 <= old_size <= size:
            raise IndexError(f"a tree of {old_size} entries is not a prefix of one of {size}")
        if old_size in (0, size):
            return []
        return self._subproof(old_size, 0, size, True)

    def _size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise IndexError(f"the tree has {self.size} entries, not {size}")
        return size

    def _subtree(self, low: int, high: int) -> bytes:
        """MTH(D[low:high]); in the RFC's recursion `low` is a multiple of the largest power of
        two not above high - low, so a perfect range is one stored hash."""
        n = high - low
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and low % n == 0:
            return self._levels[n.bit_length() - 1][low // n]
        k = _split(n)
        return node_hash(self._subtree(low, low + k), self._subtree(low + k, high))

    def _path(self, index: int, low: int, high: int) -> list[bytes]:
        n = high - low
        if n == 1:
            return []
        k = _split(n)
        if index < k:
            return self._path(index, low, low + k) + [self._subtree(low + k, high)]
        return self._path(index - k, low + k, high) + [self._subtree(low, low + k)]

    def _subproof(self, m: int, low: int, high: int, whole: bool) -> list[bytes]:
        n = high - low
        if m == n:
            return [] if whole else [self._subtree(low, high)]
        k = _split(n)
        if m <= k:
            return self._subproof(m, low, low + k, whole) + [self._subtree(low + k, high)]
        return self._subproof(m - k, low + k, high, False) + [self._subtree(low, low + k)]
