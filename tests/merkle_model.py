"""A whole Merkle tree in memory: the model the tests check the store's tree, its proofs and
the verifier against. The hub never holds its whole tree (services/transparency.py builds it in
the store, a level at a time); a test can, and recomputes every root and proof from scratch.
"""

from __future__ import annotations

from collections.abc import Iterable

from crossroads.domain.merkle import consistency_ranges, fold, inclusion_ranges, perfect_parts
from crossroads.verifier import node_hash


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
        return [self._subtree(low, high) for low, high in inclusion_ranges(index, self._size(size))]

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[0:size]) of RFC 9162 §2.1.4.1 (empty when either tree is empty or they are equal)."""
        return [self._subtree(low, high) for low, high in consistency_ranges(old_size, self._size(size))]

    def node(self, level: int, position: int) -> bytes:
        return self._levels[level][position]

    def _size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise IndexError(f"the tree has {self.size} entries, not {size}")
        return size

    def _subtree(self, low: int, high: int) -> bytes:
        return fold([self._levels[level][position] for level, position in perfect_parts(low, high)])
