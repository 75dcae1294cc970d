"""The audit log's Merkle tree (RFC 9162 §2.1): roots, inclusion proofs and consistency proofs.

The hashing and the verification of proofs live in `crossroads.verifier`, which auditors use on
their own; this module is the log's side, which makes the proofs.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..verifier import EMPTY_ROOT, node_hash, tree_head_bytes


def _split(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1), where RFC 9162 splits a tree of n."""
    return 1 << ((n - 1).bit_length() - 1)


# (level, position): the aligned, complete subtree of leaves
# [position·2^level, (position+1)·2^level)
Node = tuple[int, int]


def perfect_parts(low: int, high: int) -> list[Node]:
    """The complete subtrees whose right fold is MTH(D[low:high]), left to right.

    In RFC 9162's recursion the left part of a split is always complete and aligned, so a range it
    names is at most log2(n) stored nodes; a store fetches them in one query.
    """
    parts: list[Node] = []
    while high > low:
        n = high - low
        k = n if n & (n - 1) == 0 else _split(n)
        level = k.bit_length() - 1
        parts.append((level, low >> level))
        low += k
    return parts


def fold(hashes: list[bytes]) -> bytes:
    """The root of consecutive perfect parts: node(h0, node(h1, … node(h[-2], h[-1])))."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose roots make PATH(index, D[0:size]) (RFC 9162 §2.1.3.1), in order."""
    if not 0 <= index < size:
        raise IndexError(f"index {index} is outside a tree of {size} entries")
    ranges: list[tuple[int, int]] = []
    low, high = 0, size
    while high - low > 1:
        k = _split(high - low)
        if index < low + k:
            ranges.append((low + k, high))
            high = low + k
        else:
            ranges.append((low, low + k))
            low += k
    return ranges[::-1]


def consistency_ranges(old_size: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose roots make PROOF(old_size, D[0:size]) (RFC 9162 §2.1.4.1), in order."""
    if not 0 <= old_size <= size:
        raise IndexError(f"a tree of {old_size} entries is not a prefix of one of {size}")
    if old_size in (0, size):
        return []
    ranges: list[tuple[int, int]] = []
    low, high, m, whole = 0, size, old_size, True
    while True:
        n = high - low
        if m == n:
            if not whole:
                ranges.append((low, high))
            break
        k = _split(n)
        if m <= k:
            ranges.append((low + k, high))
            high = low + k
        else:
            ranges.append((low, low + k))
            low, m, whole = low + k, m - k, False
    return ranges[::-1]


class Frontier:
    """The right edge of a growing tree: the roots of its perfect parts, enough to append.

    A sequencer keeps one in memory; `append` returns the nodes each new leaf completes, which the
    store keeps so that any later proof is a handful of reads.
    """

    def __init__(self, size: int = 0, hashes: list[bytes] | None = None) -> None:
        parts = perfect_parts(0, size)
        if len(parts) != len(hashes or []):
            raise ValueError(
                f"a tree of {size} entries has {len(parts)} perfect parts, not {len(hashes or [])}"
            )
        self.size = size
        self._parts = [(level, h) for (level, _), h in zip(parts, hashes or [], strict=True)]

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return the nodes (level ≥ 1, position, hash) it completes."""
        completed = []
        level, position, current = 0, self.size, leaf
        while self._parts and self._parts[-1][0] == level:
            _, left = self._parts.pop()
            current = node_hash(left, current)
            level, position = level + 1, position >> 1
            completed.append((level, position, current))
        self._parts.append((level, current))
        self.size += 1
        return completed

    def extend(self, leaves: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        """Add leaf hashes in order; return every node to store: each leaf (level 0) and the
        nodes it completes."""
        nodes: list[tuple[int, int, bytes]] = []
        for leaf in leaves:
            nodes.append((0, self.size, leaf))
            nodes.extend(self.append(leaf))
        return nodes

    def known(self) -> dict[Node, bytes]:
        """Each perfect part's (level, position) and hash. A node, once complete, never changes:
        a larger tree's edge shares every one of these that its own parts name."""
        return {
            node: h for node, (_, h) in zip(perfect_parts(0, self.size), self._parts, strict=True)
        }

    def copy(self) -> Frontier:
        twin = Frontier()
        twin.size, twin._parts = self.size, list(self._parts)
        return twin

    def root(self) -> bytes:
        return fold([h for _, h in self._parts])


@dataclass(frozen=True)
class TreeHead:
    """A signed statement by the hub: the log had `tree_size` entries, with this root, at this
    time."""

    tree_size: int
    root_hash: bytes
    timestamp_ms: int
    signature: str  # detached JWS over tree_head_bytes(), by the hub's key

    def signed_bytes(self) -> bytes:
        return tree_head_bytes(self.tree_size, self.root_hash, self.timestamp_ms)

    def as_dict(self) -> dict[str, Any]:
        """The served form, which crossroads.verifier.verify_tree_head checks."""
        return {
            "tree_size": self.tree_size,
            "root_hash": base64.b64encode(self.root_hash).decode(),
            "timestamp": self.timestamp_ms,
            "signature": self.signature,
        }
