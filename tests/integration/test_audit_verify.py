"""`audit verify` on both stores: an intact log passes; each kind of tampering is caught and
located."""

from __future__ import annotations

import asyncio

import pytest

from crossroads.adapters.keys import HubKeys
from crossroads.adapters.sql.store import open_store
from crossroads.domain.audit import AuditRecord
from crossroads.services import log_auditor
from crossroads.services.clock import FixedClock
from crossroads.services.log_auditor import LogAuditor
from crossroads.services.transparency import Sequencer

pytestmark = pytest.mark.anyio
ENTRIES = 40


@pytest.fixture
async def log(store_url, tmp_path, monkeypatch):
    monkeypatch.setattr(log_auditor, "PAGE", 16)  # several pages, so that pages join correctly too
    store = await open_store(
        store_url, sequence_on_append=False
    )  # heads every 8 entries, signed by the sequencer
    keys = HubKeys.load_or_create(tmp_path / "keys")
    await asyncio.gather(
        *(
            store.audit.append(
                AuditRecord(kind="exchange", at_ms=i, outcome="ok", request_id=f"r{i}")
            )
            for i in range(ENTRIES)
        )
    )
    sequencer = Sequencer(
        store.transparency,
        keys,
        FixedClock(1_700_000_000),
        head_every_entries=8,
        head_every_seconds=3600,
        batch=8,
    )
    while await sequencer.step():
        pass
    yield store, LogAuditor(store.transparency, keys.jwks)
    await store.close()


async def tamper(store, sql: str, params: tuple = ()) -> None:
    async with store.audit_db.transaction() as tx:
        await tx.execute(sql, params)


async def test_an_intact_log_verifies(log):
    _store, auditor = log
    report = await auditor.verify()
    assert report.ok, report.problem
    assert (report.entries, report.heads) == (ENTRIES, 5)
    assert report.nodes == 2 * ENTRIES - bin(ENTRIES).count(
        "1"
    )  # every complete subtree: 40+20+10+5+2+1


async def test_a_flipped_byte_in_an_entry_is_named(log):
    store, auditor = log
    row = await store.audit_db.fetchone("SELECT record FROM audit_log WHERE leaf_index = 21")
    flipped = bytearray(row[0])
    flipped[5] ^= 0x01
    await tamper(store, "UPDATE audit_log SET record = ? WHERE leaf_index = 21", (bytes(flipped),))
    problem = (await auditor.verify()).problem
    assert (problem.index, problem.kind) == (21, "entry_modified")


async def test_a_flipped_byte_in_a_node_is_named_by_its_first_entry(log):
    store, auditor = log
    row = await store.audit_db.fetchone(
        "SELECT hash FROM merkle_nodes WHERE level = 2 AND position = 5"
    )
    flipped = bytes([row[0][0] ^ 0x01]) + bytes(row[0][1:])
    await tamper(
        store, "UPDATE merkle_nodes SET hash = ? WHERE level = 2 AND position = 5", (flipped,)
    )
    problem = (await auditor.verify()).problem
    assert (problem.index, problem.kind) == (20, "node_modified")


async def test_a_deleted_entry_is_named(log):
    store, auditor = log
    await tamper(store, "DELETE FROM audit_log WHERE leaf_index = 13")
    problem = (await auditor.verify()).problem
    assert (problem.index, problem.kind) == (13, "entry_missing")


async def test_the_last_entries_deleted_contradict_a_signed_head(log):
    store, auditor = log
    await tamper(store, "DELETE FROM audit_log WHERE leaf_index >= 38")
    problem = (await auditor.verify()).problem
    assert (problem.index, problem.kind) == (38, "head_beyond_log")


async def test_two_swapped_entries_are_named_by_the_first(log):
    store, auditor = log
    await tamper(store, "UPDATE audit_log SET leaf_index = -1 WHERE leaf_index = 30")
    await tamper(store, "UPDATE audit_log SET leaf_index = 30 WHERE leaf_index = 9")
    await tamper(store, "UPDATE audit_log SET leaf_index = 9 WHERE leaf_index = -1")
    problem = (await auditor.verify()).problem
    assert (problem.index, problem.kind) == (9, "entry_modified")


async def test_a_rewritten_history_with_recomputed_nodes_still_contradicts_the_signed_heads(
    log, tmp_path
):
    store, auditor = log
    # An attacker who rewrites entry 3 and every stored hash over it, but cannot sign a tree head.
    from crossroads.domain.merkle import Frontier
    from crossroads.verifier import leaf_hash

    row = await store.audit_db.fetchone("SELECT record FROM audit_log WHERE leaf_index = 3")
    forged = (
        row[0].replace(b"r", b"R", 1)
        if isinstance(row[0], bytes)
        else bytes(row[0]).replace(b"r", b"R", 1)
    )
    await tamper(store, "UPDATE audit_log SET record = ? WHERE leaf_index = 3", (forged,))
    frontier = Frontier()
    async with store.audit_db.transaction() as tx:
        for index, record in await store.transparency.entries(0, ENTRIES):
            leaf = leaf_hash(record)
            nodes = [(0, index, leaf), *frontier.append(leaf)]
            for level, position, value in nodes:
                await tx.execute(
                    "UPDATE merkle_nodes SET hash = ? WHERE level = ? AND position = ?",
                    (value, level, position),
                )
    problem = (await auditor.verify()).problem
    assert (problem.index, problem.kind) == (
        7,
        "head_mismatch",
    )  # the first head (size 8) covering entry 3


async def test_a_forged_tree_head_signature_is_refused(log):
    store, auditor = log
    await tamper(
        store, "UPDATE tree_heads SET timestamp_ms = timestamp_ms + 1 WHERE tree_size = 16"
    )
    problem = (await auditor.verify()).problem
    assert (problem.index, problem.kind) == (15, "head_signature")


async def test_a_head_signed_before_the_first_entry_verifies(store_url, tmp_path):
    store = await open_store(
        store_url, sequence_on_append=False
    )  # heads every 8 entries, signed by the sequencer
    try:
        keys = HubKeys.load_or_create(tmp_path / "keys")
        sequencer = Sequencer(
            store.transparency,
            keys,
            FixedClock(1_700_000_000),
            head_every_entries=8,
            head_every_seconds=3600,
            batch=8,
        )
        empty = await sequencer.sign_now()
        assert empty.tree_size == 0
        await asyncio.gather(
            *(
                store.audit.append(AuditRecord(kind="exchange", at_ms=i, outcome="ok"))
                for i in range(3)
            )
        )
        while await sequencer.step():
            pass
        await sequencer.sign_now()
        report = await LogAuditor(store.transparency, keys.jwks).verify()
        assert report.ok, report.problem
        assert (report.entries, report.heads) == (3, 2)
    finally:
        await store.close()
