"""One contract for the places tree heads are published to (HeadTarget in
services/ports/audit.py), run against each: a folder (DirectoryTarget) and a witness
(WitnessTarget, against the real witness app, reached in-process)."""

from __future__ import annotations

import httpx
import pytest

from crossroads.adapters.head_targets import DirectoryTarget, WitnessTarget
from crossroads.adapters.keys import HubKeys
from crossroads.domain.merkle import TreeHead
from crossroads.entrypoints.witness import create_witness_app
from crossroads.services.transparency import TREE_HEAD_TYPE
from crossroads.services.witness import verify_cosignature
from crossroads.verifier import leaf_hash

from tests.merkle_model import MerkleTree

pytestmark = pytest.mark.anyio


class Log:
    """A hub's log in memory: a Merkle tree, its signed heads and its consistency proofs."""

    def __init__(self, keys: HubKeys) -> None:
        self.keys = keys
        self.tree = MerkleTree()

    def grow(self, count: int, tag: str = "e") -> TreeHead:
        for n in range(count):
            self.tree.append(leaf_hash(f"{tag}{self.tree.size + n}".encode()))
        return self.head(self.tree)

    def head(self, tree: MerkleTree) -> TreeHead:
        unsigned = TreeHead(tree.size, tree.root(), 1_700_000_000_000 + tree.size, "")
        return TreeHead(unsigned.tree_size, unsigned.root_hash, unsigned.timestamp_ms,
                        self.keys.sign_detached(unsigned.signed_bytes(), {"typ": TREE_HEAD_TYPE}))

    async def prove(self, first: int, second: int) -> list[bytes]:
        return self.tree.consistency_proof(first, second)


@pytest.fixture(params=["folder", "witness"])
async def target(request, tmp_path):
    keys = HubKeys.load_or_create(tmp_path / "hub-keys")
    if request.param == "folder":
        made = DirectoryTarget(tmp_path / "published")
        made.jwks = None  # type: ignore[attr-defined]
        yield made, Log(keys)
        return
    app = create_witness_app(tmp_path / "witness", keys.jwks())
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://witness.test")
    made = WitnessTarget("http://witness.test", http)
    made.jwks = HubKeys.load_or_create(tmp_path / "witness" / "keys").jwks()  # type: ignore
    yield made, Log(keys)
    await made.close()
    await http.aclose()


def taken(target, head: TreeHead, answer: str | None) -> None:
    """A folder answers None; a witness its countersignature of exactly this head."""
    if target.jwks is None:
        assert answer is None
    else:
        assert answer
        verify_cosignature(head.as_dict() | {"cosignature": answer}, target.jwks)


async def test_a_head_and_its_consistent_successors_are_taken(target):
    target, log = target
    for count in (3, 2, 9):
        head = log.grow(count)
        taken(target, head, await target.publish(head, log.prove))


async def test_the_same_head_again_is_taken_again(target):
    target, log = target
    head = log.grow(4)
    first = await target.publish(head, log.prove)
    taken(target, head, first)
    taken(target, head, await target.publish(head, log.prove))


async def test_another_head_of_a_size_taken_before_is_refused(target):
    target, log = target
    honest = log.grow(5)
    await target.publish(honest, log.prove)
    rewritten = MerkleTree(leaf_hash(f"x{n}".encode()) for n in range(5))
    with pytest.raises(Exception):
        await target.publish(log.head(rewritten), log.prove)
    later = log.grow(1)  # the honest history goes on
    taken(target, later, await target.publish(later, log.prove))
