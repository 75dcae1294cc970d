"""The standalone verifier: what it accepts, and that every kind of tampering is caught."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crossroads.verifier as verifier
from crossroads.verifier import ProofError, leaf_hash, verify_consistency, verify_inclusion
from tests.merkle_model import MerkleTree


def tree_of(n: int) -> MerkleTree:
    return MerkleTree(leaf_hash(str(i).encode()) for i in range(n))


def test_the_verifier_imports_only_the_standard_library_and_cryptography_for_signatures():
    module = ast.parse(Path(verifier.__file__).read_text())
    at_top, anywhere = set(), set()
    for node in ast.walk(module):
        names = (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module]
            if isinstance(node, ast.ImportFrom) and node.module
            else []
        )
        roots = {name.split(".")[0] for name in names}
        anywhere |= roots
        if node in module.body:
            at_top |= roots
    assert at_top <= {"__future__", "base64", "hashlib", "json", "collections"}, at_top
    assert anywhere - at_top <= {"cryptography"}, anywhere


@pytest.mark.parametrize(
    "index,size", [(0, 1), (0, 2), (1, 2), (4, 5), (6, 7), (0, 8), (7, 8), (12, 13)]
)
def test_inclusion_fails_for_another_index_a_shorter_or_longer_path_or_another_root(index, size):
    tree = tree_of(size + 1)
    leaf, proof, root = tree.leaf(index), tree.inclusion_proof(index, size), tree.root(size)
    verify_inclusion(index, size, leaf, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf, proof, tree.root(size + 1))
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf, [*proof, proof[-1] if proof else root], root)
    if proof:
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf, proof[:-1], root)
        with pytest.raises(ProofError):
            verify_inclusion(
                index ^ 1 if (index ^ 1) < size else index - 1, size, leaf, proof, root
            )
    with pytest.raises(ProofError):
        verify_inclusion(size, size, leaf, proof, root)


@settings(max_examples=200, deadline=None)
@given(size=st.integers(2, 80), data=st.data())
def test_consistency_fails_when_any_hash_of_the_proof_or_either_root_changes(size, data):
    tree = tree_of(size)
    old = data.draw(st.integers(1, size - 1))
    proof = tree.consistency_proof(old, size)
    roots = (tree.root(old), tree.root(size))
    verify_consistency(old, size, *roots, proof)
    position = data.draw(st.integers(0, len(proof) - 1))
    changed = list(proof)
    changed[position] = bytes([changed[position][0] ^ 0x80]) + changed[position][1:]
    with pytest.raises(ProofError):
        verify_consistency(old, size, *roots, changed)
    other = leaf_hash(b"another history")
    with pytest.raises(ProofError):
        verify_consistency(old, size, other, roots[1], proof)
    with pytest.raises(ProofError):
        verify_consistency(old, size, roots[0], other, proof)


def test_consistency_edge_cases():
    tree = tree_of(6)
    verify_consistency(0, 6, tree.root(0), tree.root(6), [])
    verify_consistency(6, 6, tree.root(6), tree.root(6), [])
    with pytest.raises(ProofError):
        verify_consistency(6, 6, tree.root(6), tree.root(5), [])
    with pytest.raises(ProofError):
        verify_consistency(4, 6, tree.root(4), tree.root(6), [])
    with pytest.raises(ProofError):
        verify_consistency(7, 6, tree.root(6), tree.root(6), [])
    with pytest.raises(ProofError):
        verify_consistency(3, 6, tree.root(3), tree.root(6), [b"short"])


def test_a_rewritten_history_is_not_consistent_with_the_old_head():
    honest, rewritten = (
        tree_of(10),
        MerkleTree(leaf_hash(str(i if i != 3 else 99).encode()) for i in range(10)),
    )
    with pytest.raises(ProofError):
        verify_consistency(
            5, 10, honest.root(5), rewritten.root(10), rewritten.consistency_proof(5, 10)
        )


def test_a_tree_head_or_key_transition_whose_json_names_a_key_twice_is_refused(tmp_path):
    """Read by this file as the last `alg` (or `kid`), by another verifier as the first: what is
    signed must be read one way only (RFC 7493 §2.3), here as in the hub."""
    import base64
    import hashlib

    from crossroads.adapters.keys import HubKeys
    from crossroads.key_history import TRANSITION_TYPE, KeyHistoryError, verify_transition

    keys = HubKeys.load_or_create(tmp_path / "keys")
    kid = keys.kid.encode()

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    def sign(header: bytes, payload: bytes, detached: bool) -> str:
        signature = keys.signing_key.private_key.sign(f"{b64(header)}.{b64(payload)}".encode())
        return f"{b64(header)}.{'' if detached else b64(payload)}.{b64(signature)}"

    root = hashlib.sha256(b"root").digest()
    signed_bytes = verifier.tree_head_bytes(3, root, 1_700_000_000_000)
    head = {"tree_size": 3, "timestamp": 1_700_000_000_000, "root_hash": base64.b64encode(root)}
    head["root_hash"] = head["root_hash"].decode()
    once = b'{"alg": "EdDSA", "kid": "%s"}' % kid
    twice = b'{"alg": "none", "alg": "EdDSA", "kid": "%s"}' % kid
    assert verifier.verify_tree_head(
        {**head, "signature": sign(once, signed_bytes, True)}, keys.jwks()
    )
    with pytest.raises(ProofError):
        verifier.verify_tree_head(
            {**head, "signature": sign(twice, signed_bytes, True)}, keys.jwks()
        )

    header = b'{"alg": "EdDSA", "typ": "%s", "kid": "%s"}' % (TRANSITION_TYPE.encode(), kid)
    claims = (
        b'{"typ": "%s", "endorsed_by": "%s", "kid": "k-1", "kid": "k-2", "jwk": {"kid": "k-2"}}'
        % (TRANSITION_TYPE.encode(), kid)
    )
    trusted = {keys.kid: keys.jwks()["keys"][-1]}
    assert verify_transition(sign(header, claims.replace(b'"kid": "k-1", ', b""), False), trusted)
    with pytest.raises(KeyHistoryError):
        verify_transition(sign(header, claims, False), trusted)
