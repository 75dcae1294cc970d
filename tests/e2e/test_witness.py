"""Witnessing: the hub publishes its tree heads; `crossroads witness` countersigns only
consistent ones."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3

import httpx
import pytest

from crossroads.adapters.head_targets import DirectoryTarget, WitnessTarget
from crossroads.adapters.keys import HubKeys
from crossroads.adapters.sql.store import open_store
from crossroads.domain.audit import AuditRecord
from crossroads.domain.errors import Refusal
from crossroads.entrypoints.witness import create_witness_app
from crossroads.services.clock import FixedClock
from crossroads.services.head_publisher import HeadPublisher
from crossroads.services.transparency import AuditProofs, Sequencer
from crossroads.services.witness import verify_cosignature
from crossroads.verifier import ProofError, verify_tree_head

pytestmark = pytest.mark.anyio


class Hub:
    """A hub's audit log (a real SQLite store), its sequencer and a publisher to some targets."""

    def __init__(self, store, keys, targets) -> None:
        self.store = store
        self.sequencer = Sequencer(
            store.transparency,
            keys,
            FixedClock(1_700_000_000),
            head_every_entries=10**9,
            head_every_seconds=10**9,
        )
        self.publisher = HeadPublisher(
            store.transparency, AuditProofs(store.transparency).consistency, targets
        )

    async def grow(self, count: int, tag: str):
        first = await self.store.audit.count()
        await asyncio.gather(
            *(
                self.store.audit.append(
                    AuditRecord(
                        kind="exchange", at_ms=i, outcome="ok", request_id=f"{tag}{first + i}"
                    )
                )
                for i in range(count)
            )
        )
        return await self.sequencer.sign_now()


@pytest.fixture
async def world(tmp_path):
    keys = HubKeys.load_or_create(tmp_path / "hub-keys")
    witness_app = create_witness_app(tmp_path / "witness", keys.jwks())
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=witness_app), base_url="http://witness.test"
    )
    stores = []

    async def hub(name: str, target: WitnessTarget | None = None) -> Hub:
        store = await open_store(f"sqlite:///{tmp_path / name}.sqlite3")
        stores.append(store)
        return Hub(store, keys, [target or WitnessTarget("http://witness.test", http)])

    yield hub, http, keys, tmp_path
    for store in stores:
        await store.close()
    await http.aclose()


async def test_consistent_heads_are_countersigned_and_a_split_view_is_refused_with_evidence(world):
    hub, http, keys, tmp_path = world
    honest = await hub("honest")
    await honest.grow(5, "a")
    assert await honest.publisher.publish_latest() == 1
    head = await honest.grow(8, "a")
    assert await honest.publisher.publish_latest() == 1
    cosigned = (await http.get("/witness/v1/tree-heads/latest")).json()
    assert cosigned["tree_size"] == 13 and cosigned["signature"] == head.signature
    witness_jwks = (await http.get("/witness/.well-known/jwks.json")).json()
    verify_cosignature(cosigned, witness_jwks)
    with pytest.raises(ProofError):
        verify_cosignature(cosigned, keys.jwks())  # the hub's key did not make the cosignature
    # The hub keeps each countersignature, to serve it with the head.
    served = await AuditProofs(honest.store.transparency).cosignatures(13)
    assert served == [{"witness": "http://witness.test", "cosignature": cosigned["cosignature"]}]
    assert await honest.store.transparency.cosignatures(5) != {}

    # Another history under the same key: the operator shows it to someone else.
    # The hub's own publisher checks the witnessed head first and submits nothing (a restored
    # log does the same: docs/operations.md, "Backup and restore").
    forked = await hub("forked")
    forked_13 = await forked.grow(13, "b")
    assert await forked.publisher.publish_latest() == 0 and forked.publisher.failures == 1
    assert not (tmp_path / "witness/ledger/split-views.jsonl").exists()
    # An operator who submits anyway, by hand, is refused by the witness, which keeps evidence.
    forked_20 = await forked.grow(7, "b")
    for head, proof_from in ((forked_13, 0), (forked_20, 13)):
        proof = await AuditProofs(forked.store.transparency).consistency(proof_from, 20)
        answer = await http.post(
            "/witness/v1/tree-heads",
            json={
                "head": head.as_dict(),
                "proof_from": proof_from,
                "consistency_path": [base64.b64encode(h).decode() for h in proof]
                if proof_from
                else [],
            },
        )
        assert answer.status_code == 409 and answer.json()["code"] == "split_view"
    assert await forked.store.transparency.cosignatures(13) == {}  # refused: nothing to show
    evidence = [
        json.loads(line)
        for line in (tmp_path / "witness/ledger/split-views.jsonl").read_text().splitlines()
    ]
    assert len(evidence) == 2 and evidence[0]["countersigned"]["tree_size"] == 13
    assert (await http.get("/witness/v1/tree-heads/latest")).json()["tree_size"] == 13

    # The honest log goes on being countersigned, and a restarted witness remembers where it was.
    await honest.grow(4, "a")
    assert await honest.publisher.publish_latest() == 1
    restarted = create_witness_app(tmp_path / "witness", keys.jwks())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=restarted), base_url="http://w2.test"
    ) as again:
        assert (await again.get("/witness/v1/tree-heads/latest")).json()["tree_size"] == 17


async def test_a_head_not_signed_by_the_hub_or_malformed_is_refused(world):
    _hub, http, _keys, tmp_path = world
    impostor_keys = HubKeys.load_or_create(tmp_path / "impostor-keys")
    store = await open_store(f"sqlite:///{tmp_path / 'imp.sqlite3'}")
    impostor = Sequencer(
        store.transparency,
        impostor_keys,
        FixedClock(1_700_000_000),
        head_every_entries=1,
        head_every_seconds=1,
    )
    forged = await impostor.sign_now()
    await store.close()
    answer = await http.post(
        "/witness/v1/tree-heads", json={"head": forged.as_dict(), "proof_from": 0}
    )
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_tree_head"
    answer = await http.post("/witness/v1/tree-heads", json={"head": "nonsense", "extra": 1})
    assert answer.status_code == 400 and answer.json()["code"] == "malformed_request"


async def test_a_publisher_behind_the_witness_proves_from_where_the_witness_is(world):
    hub, http, keys, _tmp_path = world
    first = await hub("shared")
    await first.grow(6, "s")
    await first.publisher.publish_latest()
    # A second hub process on the same log; it learns the witness stands at 6.
    second = Hub(first.store, keys, [WitnessTarget("http://witness.test", http)])
    await first.grow(3, "s")
    assert await second.publisher.publish_latest() == 1  # 9, proved from 6
    await first.grow(5, "s")
    assert (
        await first.publisher.publish_latest() == 1
    )  # first still thinks 6: told 9, proves from 9
    assert first.publisher.failures == 0
    assert (await http.get("/witness/v1/tree-heads/latest")).json()["tree_size"] == 14


async def test_a_restarted_publisher_whose_latest_head_the_witness_has_passed_skips_it(world):
    """A hub restored from a backup and recovered from its archive holds every entry the witness
    countersigned, but its latest signed head can be older than the witness's until the
    sequencer signs the next one. That head is covered already: it is not a failure."""
    hub, http, keys, tmp_path = world
    first = await hub("restored")
    await first.grow(6, "r")
    await first.publisher.publish_latest()
    await first.grow(3, "r")
    await first.publisher.publish_latest()
    with sqlite3.connect(tmp_path / "restored.audit.sqlite3") as raw:  # the backup predates head 9
        raw.execute("DELETE FROM tree_heads WHERE tree_size = 9")
    assert (await first.store.transparency.latest_head()).tree_size == 6
    restarted = Hub(first.store, keys, [WitnessTarget("http://witness.test", http)])
    assert await restarted.publisher.publish_latest() == 1
    assert restarted.publisher.failures == 0
    assert (await http.get("/witness/v1/tree-heads/latest")).json()["tree_size"] == 9
    await first.grow(2, "r")
    assert await restarted.publisher.publish_latest() == 1  # 11, proved from 9
    assert restarted.publisher.failures == 0
    assert (await http.get("/witness/v1/tree-heads/latest")).json()["tree_size"] == 11


async def test_heads_published_to_a_directory_are_written_once_and_verify(tmp_path):
    keys = HubKeys.load_or_create(tmp_path / "keys")
    store = await open_store(f"sqlite:///{tmp_path / 'dir.sqlite3'}")
    try:
        hub = Hub(store, keys, [DirectoryTarget(tmp_path / "published")])
        await hub.grow(3, "d")
        await hub.publisher.publish_latest()
        await hub.publisher.publish_latest()  # the same head: nothing more
        await hub.grow(2, "d")
        await hub.publisher.publish_latest()
        files = sorted((tmp_path / "published").iterdir())
        assert [f.name for f in files] == [
            "tree-head-000000000003.json",
            "tree-head-000000000005.json",
        ]
        assert verify_tree_head(json.loads(files[1].read_text()), keys.jwks())[0] == 5
    finally:
        await store.close()


async def test_a_witness_seeded_with_a_trusted_head_believes_only_what_extends_it(world, tmp_path):
    hub, _http, keys, _ = world
    honest = await hub("honest-seed")
    trusted = (await honest.grow(5, "a")).as_dict()
    seeded = create_witness_app(tmp_path / "seeded", keys.jwks(), trusted_head=trusted)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=seeded), base_url="http://seeded.test"
    ) as http:
        latest = (await http.get("/witness/v1/tree-heads/latest")).json()
        assert latest["tree_size"] == 5 and latest["root_hash"] == trusted["root_hash"]
        # Another history of the same size is a split view, not a first head to believe.
        forked = await hub("forked-seed")
        other = (await forked.grow(5, "b")).as_dict()
        answer = await http.post(
            "/witness/v1/tree-heads", json={"head": other, "proof_from": 0, "consistency_path": []}
        )
        assert answer.status_code == 409 and answer.json()["code"] == "split_view"
        # The honest log's next head extends the trusted one, by proof from its size.
        head = await honest.grow(3, "a")
        proof = await AuditProofs(honest.store.transparency).consistency(5, 8)
        answer = await http.post(
            "/witness/v1/tree-heads",
            json={
                "head": head.as_dict(),
                "proof_from": 5,
                "consistency_path": [base64.b64encode(h).decode() for h in proof],
            },
        )
        assert answer.status_code == 200 and answer.json()["tree_size"] == 8
    # Seeding again leaves a witness with a history of its own as it is.
    again = create_witness_app(tmp_path / "seeded", keys.jwks(), trusted_head=trusted)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=again), base_url="http://again.test"
    ) as http:
        assert (await http.get("/witness/v1/tree-heads/latest")).json()["tree_size"] == 8
    # A head the hub's keys did not sign is no trust to start from.
    stranger = HubKeys.load_or_create(tmp_path / "stranger-keys")
    with pytest.raises(Refusal) as refused:
        create_witness_app(tmp_path / "seeded-badly", stranger.jwks(), trusted_head=trusted)
    assert refused.value.code == "invalid_tree_head"
