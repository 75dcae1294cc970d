"""The log's Merkle tree against RFC 9162's definitions and the published Certificate
Transparency test vectors."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossroads.domain.merkle import Frontier, perfect_parts
from crossroads.verifier import (
    EMPTY_ROOT,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.merkle_model import MerkleTree

# The eight entries of the reference test data of RFC 6962's implementation
# (certificate-transparency), and the roots of the trees of their first 1..8 entries: the same
# hashing in RFC 9162.
ENTRIES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
PATH_0_OF_8 = [
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
]


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH of RFC 9162 §2.1.1, written as the RFC states it, to check the tree's stored shortcut."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def test_the_empty_tree_has_the_hash_of_nothing():
    assert MerkleTree().root() == EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_roots_match_the_published_vectors_for_every_size():
    tree = MerkleTree(leaf_hash(e) for e in ENTRIES)
    assert [tree.root(n).hex() for n in range(1, 9)] == ROOTS


def test_inclusion_and_consistency_proofs_match_the_published_vectors():
    tree = MerkleTree(leaf_hash(e) for e in ENTRIES)
    assert [h.hex() for h in tree.inclusion_proof(0, 8)] == PATH_0_OF_8
    assert [h.hex() for h in tree.consistency_proof(1, 8)] == PATH_0_OF_8
    assert tree.inclusion_proof(0, 1) == [] and tree.consistency_proof(8, 8) == []


def test_out_of_range_requests_are_refused():
    tree = MerkleTree(leaf_hash(e) for e in ENTRIES)
    with pytest.raises(IndexError):
        tree.inclusion_proof(8, 8)
    with pytest.raises(IndexError):
        tree.root(9)
    with pytest.raises(IndexError):
        tree.consistency_proof(5, 4)


leaf_lists = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70)


@settings(max_examples=150, deadline=None)
@given(leaves=leaf_lists)
def test_every_prefix_root_equals_the_rfc_definition(leaves):
    tree = MerkleTree(leaves)
    for n in range(len(leaves) + 1):
        assert tree.root(n) == reference_root(leaves[:n])


@settings(max_examples=150, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_every_inclusion_proof_verifies_and_only_for_its_own_leaf(leaves, data):
    tree = MerkleTree(leaves)
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    proof = tree.inclusion_proof(index, size)
    verify_inclusion(index, size, leaves[index], proof, tree.root(size))
    forged = bytes([leaves[index][0] ^ 1]) + leaves[index][1:]
    with pytest.raises(ValueError):
        verify_inclusion(index, size, forged, proof, tree.root(size))


@settings(max_examples=150, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_every_consistency_proof_verifies(leaves, data):
    tree = MerkleTree(leaves)
    size = data.draw(st.integers(0, len(leaves)))
    old = data.draw(st.integers(0, size))
    verify_consistency(
        old, size, tree.root(old), tree.root(size), tree.consistency_proof(old, size)
    )


@settings(max_examples=100, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_a_frontier_resumed_from_its_parts_grows_the_same_tree_and_names_every_completed_node(
    leaves, data
):
    tree = MerkleTree(leaves)
    start = data.draw(st.integers(0, len(leaves)))
    parts = perfect_parts(0, start)
    frontier = Frontier(start, [tree.node(level, position) for level, position in parts])
    assert frontier.root() == tree.root(start)
    for index in range(start, len(leaves)):
        for level, position, value in frontier.append(leaves[index]):
            assert value == tree.node(level, position)
        assert frontier.root() == tree.root(index + 1)


@settings(max_examples=100, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_extending_a_copy_leaves_the_original_as_it_was_and_names_leaves_and_nodes(leaves, data):
    split = data.draw(st.integers(0, len(leaves)))
    original = Frontier()
    original.extend(leaves[:split])
    before = original.root()
    twin = original.copy()
    nodes = twin.extend(leaves[split:])
    assert (original.size, original.root()) == (split, before)
    tree = MerkleTree(leaves)
    assert twin.root() == tree.root()
    assert [(p, v) for level, p, v in nodes if level == 0] == list(enumerate(leaves))[split:]
    assert all(v == tree.node(level, p) for level, p, v in nodes)
    assert len(nodes) == (2 * len(leaves) - bin(len(leaves)).count("1")) - (
        2 * split - bin(split).count("1")
    )


@settings(max_examples=100, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_a_frontier_names_each_of_its_parts_with_the_hash_a_larger_tree_has_there(leaves, data):
    """What a writer reuses of its edge once the tree has grown under it (adapters/sql/audit.py)."""
    size = data.draw(st.integers(0, len(leaves)))
    frontier = Frontier()
    frontier.extend(leaves[:size])
    tree = MerkleTree(leaves)
    known = frontier.known()
    assert list(known) == perfect_parts(0, size)
    assert all(value == tree.node(level, p) for (level, p), value in known.items())


def test_a_frontier_refuses_parts_that_do_not_fit_its_size():
    with pytest.raises(ValueError):
        Frontier(5, [EMPTY_ROOT])
