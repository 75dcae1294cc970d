"""The audit log's Merkle tree on both stores: sequencing, signed tree heads, proofs an outsider
checks."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3

import psycopg
import pytest

from crossroads.adapters.keys import HubKeys
from crossroads.adapters.sql import audit as audit_adapter
from crossroads.adapters.sql import database as database_adapter
from crossroads.adapters.sql.audit_file import audit_path
from crossroads.adapters.sql.store import open_store, sqlite_path
from crossroads.adapters.sql.transparency import SEQUENCER_LOCK
from crossroads.adapters.sql.write_turn import turn_path
from crossroads.domain.audit import AuditRecord
from crossroads.domain.errors import Refusal
from crossroads.services.clock import FixedClock
from crossroads.services.ports import StoreUnavailable
from crossroads.services.transparency import AuditProofs, Sequencer
from crossroads.verifier import (
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
    verify_tree_head,
)
from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.merkle_model import MerkleTree

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(store_url):
    opened = await open_store(
        store_url, sequence_on_append=False
    )  # the sequencer under test orders them
    yield opened
    await opened.close()


@pytest.fixture
def keys(tmp_path):
    return HubKeys.load_or_create(tmp_path / "keys")


def record(i: int) -> AuditRecord:
    return AuditRecord(
        kind="exchange", at_ms=1_700_000_000_000 + i, outcome="ok", request_id=f"r{i}"
    )


async def append(store, start: int, count: int) -> None:
    await asyncio.gather(*(store.audit.append(record(i)) for i in range(start, start + count)))


def sequencer(store, keys, clock, **options) -> Sequencer:
    return Sequencer(
        store.transparency,
        keys,
        clock,
        head_every_entries=options.get("entries", 10),
        head_every_seconds=options.get("seconds", 3600),
        batch=options.get("batch", 7),
    )


async def sequence_all(seq: Sequencer) -> None:
    while await seq.step():
        pass


async def test_entries_get_dense_leaf_indexes_and_signed_heads_verify_with_the_jwks(store, keys):
    clock = FixedClock(1_700_000_000)
    seq = sequencer(store, keys, clock)
    await append(store, 0, 25)
    await sequence_all(seq)
    assert await store.transparency.size() == 25
    assert await store.transparency.unsequenced(10) == []
    head = await AuditProofs(store.transparency).latest_head()
    size, root = verify_tree_head(head.as_dict(), keys.jwks())
    entries = [await store.transparency.entry(i) for i in range(25)]
    # Batches of 7, a head at least every 10 entries: signed at 7 (the first is due at once) and 21.
    assert size == 21 and root == MerkleTree(leaf_hash(e) for e in entries[:21]).root()
    forged = {**head.as_dict(), "tree_size": 24}
    with pytest.raises(ProofError):
        verify_tree_head(forged, keys.jwks())


async def test_inclusion_and_consistency_proofs_from_the_store_verify(store, keys):
    clock = FixedClock(1_700_000_000)
    seq = sequencer(store, keys, clock)
    proofs = AuditProofs(store.transparency)
    await append(store, 0, 13)
    await sequence_all(seq)
    old = await seq.sign_now()
    await append(store, 13, 20)
    await sequence_all(seq)
    new = await seq.sign_now()
    for index in (0, 6, 12, 32):
        leaf, path = await proofs.inclusion(index, new.tree_size)
        assert leaf == leaf_hash(await proofs.entry(index))
        verify_inclusion(index, new.tree_size, leaf, path, new.root_hash)
    verify_consistency(
        old.tree_size,
        new.tree_size,
        old.root_hash,
        new.root_hash,
        await proofs.consistency(old.tree_size, new.tree_size),
    )
    with pytest.raises(Refusal) as refused:
        await proofs.inclusion(33, 33)
    assert refused.value.code == "not_found"
    with pytest.raises(Refusal):
        await proofs.consistency(1, 34)


async def test_a_head_is_signed_when_enough_entries_or_time_have_passed(store, keys):
    clock = FixedClock(1_700_000_000)
    seq = sequencer(store, keys, clock, entries=10, seconds=60, batch=100)
    await append(store, 0, 3)
    await seq.step()
    first = await store.transparency.latest_head()
    assert first is not None and first.tree_size == 3  # the first head of a log is due at once
    await append(store, 3, 3)
    await seq.step()
    assert (await store.transparency.latest_head()).tree_size == 3  # neither 10 entries nor 60 s
    clock.at += 61
    await seq.step()
    assert (await store.transparency.latest_head()).tree_size == 6
    await append(store, 6, 10)
    await seq.step()
    assert (await store.transparency.latest_head()).tree_size == 16


async def test_two_sequencers_keep_one_order(store, keys):
    clock = FixedClock(1_700_000_000)
    first, second = sequencer(store, keys, clock, batch=5), sequencer(store, keys, clock, batch=5)
    await append(store, 0, 40)
    for _ in range(30):
        await asyncio.gather(first.step(), second.step())
    assert await store.transparency.size() == 40
    entries = [await store.transparency.entry(i) for i in range(40)]
    assert len(set(entries)) == 40
    head = await first.sign_now()
    assert head.root_hash == MerkleTree(leaf_hash(e) for e in entries).root()
    leaf, path = await AuditProofs(store.transparency).inclusion(17, 40)
    verify_inclusion(17, 40, leaf, path, head.root_hash)


async def test_a_store_refuses_a_sequence_that_does_not_continue_the_tree(store, keys):
    await append(store, 0, 2)
    [(seq_a, leaf_a), (seq_b, leaf_b)] = await store.transparency.unsequenced(10)
    # Each with its leaf hash, made where the store keeps the records (PostgreSQL hashes them).
    assert [leaf_a, leaf_b] == [leaf_hash(r) for _, r in await store.audit.read()]
    assert await store.transparency.sequence(5, [seq_a], [(0, 5, b"x" * 32)]) is False
    assert await store.transparency.sequence(0, [seq_a], [(0, 0, b"x" * 32)]) is True
    with pytest.raises(RuntimeError):  # seq_a already has an index: nothing of this batch lands
        await store.transparency.sequence(1, [seq_a, seq_b], [(0, 1, b"y" * 32), (0, 2, b"z" * 32)])
    assert await store.transparency.size() == 1
    assert await store.transparency.nodes([(0, 1)]) == {}


async def test_entries_about_a_subject_come_newest_first_from_its_keyed_hash(store, keys):
    mine, other = "aa" * 16, "bb" * 16
    for i in range(6):
        await store.audit.append(
            AuditRecord(
                kind="exchange",
                at_ms=1_700_000_000_000 + i,
                outcome="ok",
                request_id=f"s{i}",
                subject_hash=mine if i % 2 == 0 else other,
            )
        )
    before = await store.transparency.about_subject(bytes.fromhex(mine), None, 10)
    assert [AuditRecord.from_canonical(raw).request_id for _, _, raw in before] == [
        "s4",
        "s2",
        "s0",
    ]
    assert all(index is None for _, index, _ in before)  # not sequenced yet
    await sequence_all(sequencer(store, keys, FixedClock(1_700_000_000)))
    found = await store.transparency.about_subject(bytes.fromhex(mine), None, 2)
    assert [AuditRecord.from_canonical(raw).request_id for _, _, raw in found] == ["s4", "s2"]
    for _, index, raw in found:
        assert await store.transparency.entry(index) == raw
    older = await store.transparency.about_subject(bytes.fromhex(mine), found[-1][0], 2)
    assert [AuditRecord.from_canonical(raw).request_id for _, _, raw in older] == ["s0"]
    assert await store.transparency.about_subject(bytes(16), None, 10) == []


async def jump_to(store, seq: int) -> None:
    """Make the next append's seq `seq` (as if that many entries came before)."""
    async with store.audit_db.transaction() as tx:
        if store.audit_db.dialect == "postgres":
            await tx.execute(
                "SELECT setval(pg_get_serial_sequence('audit_log', 'seq'), ?)", (seq - 1,)
            )
        else:
            await tx.execute(
                "INSERT INTO audit_log (seq, at_ms, record) VALUES (?, 0, x'00')", (seq - 1,)
            )


async def test_a_subjects_entries_are_found_across_buckets_and_windows_of_them(store, monkeypatch):
    from crossroads.adapters.sql import transparency

    monkeypatch.setattr(transparency, "_BUCKETS_PER_QUERY", 2)  # several queries for one page
    mine, other = bytes.fromhex("aa" * 16), "bb" * 16
    wanted = []
    for start in (1, 40_000, 90_000, 200_000):  # buckets 0, 2, 5 and 12 of 16,384 seqs
        if start > 1:
            await jump_to(store, start)
        for i in range(3):
            name = f"b{start}-{i}"
            await store.audit.append(
                AuditRecord(
                    kind="exchange",
                    at_ms=start + i,
                    outcome="ok",
                    request_id=name,
                    subject_hash=mine.hex() if i != 1 else other,
                )
            )
            if i != 1:
                wanted.append(name)
    pages, before = [], None
    while True:
        page = await store.transparency.about_subject(mine, before, 3)
        if not page:
            break
        pages.append([AuditRecord.from_canonical(raw).request_id for _, _, raw in page])
        before = page[-1][0]
    assert [name for page in pages for name in page] == wanted[::-1]
    assert [len(page) for page in pages] == [3, 3, 2]


async def eventually(attempt, tries: int = 200) -> bool:
    for _ in range(tries):
        if await attempt():
            return True
        await asyncio.sleep(0.01)
    return False


async def test_one_sequencer_lease_per_store_and_it_passes_on_when_released(store):
    first, second = store.sequencer_lease(), store.sequencer_lease()
    try:
        assert await first.try_acquire()
        assert await first.try_acquire()  # held: checked, still held
        assert not await second.try_acquire()
        await first.release()
        assert await eventually(
            second.try_acquire
        )  # PostgreSQL ends the old session a moment later
        assert not await first.try_acquire()
    finally:
        await first.release()
        await second.release()


async def test_a_sequencer_with_a_lease_steps_only_while_it_holds_it(store, keys):
    await append(store, 0, 5)
    holder = store.sequencer_lease()
    assert await holder.try_acquire()
    waiting = sequencer(store, keys, FixedClock(1_700_000_000))
    stop = asyncio.Event()
    running = asyncio.create_task(
        waiting.run(stop, store.sequencer_lease(), idle_seconds=0.01, takeover_seconds=0.01)
    )
    await asyncio.sleep(0.2)
    assert not waiting.leading and await store.transparency.size() == 0
    await holder.release()
    for _ in range(200):
        if await store.transparency.size() == 5:
            break
        await asyncio.sleep(0.01)
    assert waiting.leading and await store.transparency.size() == 5
    stop.set()
    await running
    assert not waiting.leading


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'inline.sqlite3'}"


async def tree_of(store) -> MerkleTree:
    return MerkleTree(leaf_hash(raw) for _, raw in await store.transparency.entries(0, 10_000))


async def test_an_acknowledged_append_already_has_its_leaf_and_nodes(store_url, keys):
    store = await open_store(store_url)
    try:
        await append(store, 0, 37)
        assert await store.transparency.size() == 37
        assert await store.transparency.unsequenced(10) == []
        tree = await tree_of(store)
        assert tree.size == 37
        leaf, path = await AuditProofs(store.transparency).inclusion(20, 37)
        verify_inclusion(20, 37, leaf, path, tree.root())
        # The sequencer's part is the signature: a head of the whole tree, at once.
        head = await sequencer(store, keys, FixedClock(1_700_000_000)).sign_now()
        assert verify_tree_head(head.as_dict(), keys.jwks()) == (37, tree.root())
    finally:
        await store.close()


async def test_entries_left_unindexed_are_indexed_first_by_the_next_append(store_url, keys):
    older = await open_store(
        store_url, sequence_on_append=False
    )  # as a hub of an earlier version wrote them
    await append(older, 0, 9)
    await older.close()
    store = await open_store(store_url)
    try:
        assert await store.transparency.size() == 0
        await store.audit.append_many([record(i) for i in range(9, 13)])
        assert await store.transparency.size() == 13  # no sequencer step was needed
        assert await store.transparency.unsequenced(10) == []
        entries = await store.transparency.entries(0, 100)
        assert [AuditRecord.from_canonical(raw).request_id for _, raw in entries] == [
            f"r{i}" for i in range(13)
        ]
        head = await sequencer(store, keys, FixedClock(1_700_000_000)).sign_now()
        assert head.root_hash == (await tree_of(store)).root()
    finally:
        await store.close()


async def test_a_long_backlog_of_unindexed_entries_is_caught_up_a_bounded_part_a_batch(
    store_url, keys, monkeypatch
):
    """Each append indexes at most CATCH_UP waiting entries; while more wait it is stored
    unindexed behind them, and later appends (or the sequencer) go on from there."""
    monkeypatch.setattr(audit_adapter, "CATCH_UP", 5)
    older = await open_store(store_url, sequence_on_append=False)
    await append(older, 0, 12)
    await older.close()
    store = await open_store(store_url)
    try:
        await store.audit.append(record(12))  # 5 of the 12 indexed; it waits behind 7
        assert await store.transparency.size() == 5
        await store.audit.append(record(13))  # 5 more; 4 still wait, r12 among them
        assert await store.transparency.size() == 10
        await store.audit.append(record(14))  # the last 4, then itself
        assert await store.transparency.size() == 15
        entries = await store.transparency.entries(0, 100)
        assert [AuditRecord.from_canonical(raw).request_id for _, raw in entries] == [
            f"r{i}" for i in range(15)
        ]
        head = await sequencer(store, keys, FixedClock(1_700_000_000)).sign_now()
        assert head.root_hash == (await tree_of(store)).root()
    finally:
        await store.close()


async def test_two_hub_processes_appending_to_one_store_grow_one_tree(store_url, keys):
    first, second = await open_store(store_url), await open_store(store_url)
    try:
        for round_ in range(
            4
        ):  # each writer finds the tree grown by the other and reloads its edge
            await asyncio.gather(
                append(first, 100 * round_, 7), append(second, 100 * round_ + 50, 5)
            )
        assert await first.transparency.size() == 48
        tree = await tree_of(first)
        stored = await first.transparency.nodes(
            [(level, p) for level in range(6) for p in range(48 >> level)]
        )
        assert all(value == tree.node(level, p) for (level, p), value in stored.items())
        assert len(stored) == 2 * 48 - bin(48).count("1")
    finally:
        await first.close()
        await second.close()


async def test_on_sqlite_a_writer_reads_only_the_parts_of_the_edge_it_does_not_know(
    sqlite_url, monkeypatch
):
    """After another process's batch, a writer reads again only the edge's parts that batch
    changed (its low levels), and still grows the one tree."""
    reads: list[str] = []
    connect = database_adapter.sqlite_connect  # the audit file's writer connection among them

    def counting(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(
            lambda sql: (
                reads.append(sql) if sql.startswith("SELECT hash FROM merkle_nodes") else None
            )
        )
        return conn

    monkeypatch.setattr(database_adapter, "sqlite_connect", counting)
    first, second = await open_store(sqlite_url), await open_store(sqlite_url)
    try:
        await first.audit.append_many([record(i) for i in range(1000)])  # 6 parts: 512 … 8
        await second.audit.append(record(1000))  # it read all 6; the edge has 7 parts now
        reads.clear()
        await first.audit.append(record(1001))  # 1,001 = its 6 parts and the new leaf
        assert len(reads) == 1
        tree = await tree_of(first)
        stored = await first.transparency.nodes(
            [(level, p) for level in range(11) for p in range(1002 >> level)]
        )
        assert all(value == tree.node(level, p) for (level, p), value in stored.items())
        assert len(stored) == 2 * 1002 - bin(1002).count("1")
    finally:
        await first.close()
        await second.close()


async def test_on_sqlite_an_audit_writer_waits_for_the_turn_another_process_holds(sqlite_url, keys):
    """The audit writers of the hub's processes take turns by a lock on a file beside the
    database; what was appended while the turn was held is committed once it is released."""
    store = await open_store(sqlite_url)
    turn = os.open(turn_path(audit_path(sqlite_path(sqlite_url))), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await append(store, 0, 2)  # the writer runs, with its own descriptor of the file
        fcntl.flock(turn, fcntl.LOCK_EX)  # as another process's writer in its transaction
        waiting = asyncio.ensure_future(append(store, 2, 5))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        assert await store.transparency.size() == 2
        fcntl.flock(turn, fcntl.LOCK_UN)
        await asyncio.wait_for(waiting, 10)
        assert await store.transparency.size() == 7
        head = await sequencer(store, keys, FixedClock(1_700_000_000)).sign_now()
        assert head.root_hash == (await tree_of(store)).root()  # the stored nodes agree
    finally:
        os.close(turn)
        await store.close()


async def test_a_failed_batch_leaves_no_leaf_and_the_next_one_continues_the_tree(store_url, keys):
    store = await open_store(store_url)
    try:
        await append(store, 0, 3)
        async with (
            store.audit_db.transaction() as tx
        ):  # a node the next batch will also write: its commit fails
            await tx.execute(
                "INSERT INTO merkle_nodes (level, position, hash) VALUES (0, 3, ?)", (b"x" * 32,)
            )
        with pytest.raises((sqlite3.IntegrityError, psycopg.errors.IntegrityError)):
            await store.audit.append(record(3))
        assert await store.transparency.size() == 3
        async with store.audit_db.transaction() as tx:
            await tx.execute("DELETE FROM merkle_nodes WHERE level = 0 AND position = 3")
        await append(store, 4, 5)
        assert await store.transparency.size() == 8
        report_tree = await tree_of(store)
        head = await sequencer(store, keys, FixedClock(1_700_000_000)).sign_now()
        assert head.root_hash == report_tree.root()
    finally:
        await store.close()


async def test_on_postgres_an_appender_waits_for_the_sequencer_lock_another_process_holds(
    keys,
):
    """On PostgreSQL the appenders of every hub process take the sequencer's advisory lock for
    their transaction: what was appended while another held it is committed once it is released,
    and continues the tree."""
    url = fresh_postgres_database()
    store = await open_store(url)
    try:
        await append(store, 0, 2)
        async with await psycopg.AsyncConnection.connect(url) as other:
            await other.execute("SELECT pg_advisory_lock(%s)", (SEQUENCER_LOCK,))
            waiting = asyncio.ensure_future(append(store, 2, 5))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            assert await store.transparency.size() == 2
            await other.execute("SELECT pg_advisory_unlock(%s)", (SEQUENCER_LOCK,))
            await asyncio.wait_for(waiting, 10)
        assert await store.transparency.size() == 7
        head = await sequencer(store, keys, FixedClock(1_700_000_000)).sign_now()
        assert head.root_hash == (await tree_of(store)).root()  # the stored nodes agree
    finally:
        await store.close()
        drop_postgres_database(url)


async def test_batches_of_every_size_store_the_nodes_of_one_tree(store_url):
    """Batches that end at every kind of edge (a single leaf, a power of two, odd runs) leave
    exactly the nodes of the model tree, so that any later proof reads what it needs."""
    store = await open_store(store_url)
    try:
        start = 0
        for size in (1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 1, 24):
            await store.audit.append_many([record(i) for i in range(start, start + size)])
            start += size
        tree = await tree_of(store)
        assert tree.size == start == 256
        wanted = [(level, p) for level in range(9) for p in range(start >> level)]
        stored = await store.transparency.nodes(wanted)
        assert len(stored) == len(wanted)
        assert all(value == tree.node(level, p) for (level, p), value in stored.items())
    finally:
        await store.close()


async def test_an_append_refuses_to_grow_a_tree_whose_edge_node_is_gone(store_url):
    """A stored node of the tree's right edge that is missing (a hand-edited store) fails the
    append, naming the node and `audit verify`; nothing of the batch is kept."""
    store = await open_store(store_url)
    try:
        await append(store, 0, 6)  # the edge: (2, 0) over leaves 0-3, (1, 2) over 4-5
        async with store.audit_db.transaction() as tx:
            await tx.execute("DELETE FROM merkle_nodes WHERE level = 1 AND position = 2")
    finally:
        await store.close()
    store = await open_store(store_url)  # a process that has not cached the edge
    try:
        with pytest.raises(Exception, match=r"lacks its stored node.*\(1, 2\).*audit verify"):
            await store.audit.append(record(6))
        assert await store.audit.count() == 6
    finally:
        await store.close()


async def test_on_postgres_an_append_gives_up_on_the_lock_before_its_bound_and_writes_nothing():
    """The server stops waiting for the sequencer's lock before the hub's bound on the statement
    would cut the connection (a cut statement would still commit once the lock came)."""
    url = fresh_postgres_database()
    store = await open_store(url, statement_seconds=1.0)
    try:
        await append(store, 0, 2)
        async with await psycopg.AsyncConnection.connect(url) as other:
            await other.execute("SELECT pg_advisory_lock(%s)", (SEQUENCER_LOCK,))
            with pytest.raises(StoreUnavailable) as refused:  # 503 not_ready, as a cut would be
                await store.audit.append(record(2))
            assert isinstance(refused.value.__cause__, psycopg.errors.LockNotAvailable)
            await asyncio.sleep(0.5)  # nothing left running on the server to commit it later
            await other.execute("SELECT pg_advisory_unlock(%s)", (SEQUENCER_LOCK,))
        assert await store.audit.count() == 2
        await store.audit.append(record(3))
        assert await store.transparency.size() == 3
    finally:
        await store.close()
        drop_postgres_database(url)


async def test_on_postgres_an_append_reads_the_log_by_its_indexes_whatever_the_statistics_say():
    """The append asks whether entries wait unindexed, then finds the tree's edge. Statistics
    taken while entries waited (an upgrade from a version that left them to the sequencer) made
    that question a read of the whole log, under the lock every appender waits for: once those
    entries are indexed and the log has grown, an append in a connection planning it anew reads
    the log and the tree by their indexes only."""
    url = fresh_postgres_database()
    try:
        old = await open_store(url, sequence_on_append=False)
        await append(old, 0, 300)
        await old.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE audit_log")  # every entry waiting, as autovacuum could see it
        store = await open_store(url)
        try:
            for start in range(300, 3300, 1000):  # the waiting ones indexed first, then these
                await store.audit.append_many([record(i) for i in range(start, start + 1000)])
            assert await store.transparency.size() == 3300
        finally:
            await store.close()
        leaf = leaf_hash(b"{}")
        with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
            conn.execute(
                "SELECT crossroads_audit_append(%s::bigint[], %s::bytea[], %s::bytea[],"
                " %s::bytea[], %s, %s, %s)",
                ([1], [None], [b"{}"], [leaf], SEQUENCER_LOCK, 1000, audit_adapter.CATCH_UP),
            )
            scans = dict(
                conn.execute(
                    "SELECT relname, seq_scan FROM pg_stat_xact_user_tables"
                    " WHERE relname IN ('audit_log', 'merkle_nodes')"
                ).fetchall()
            )
        assert scans == {"audit_log": 0, "merkle_nodes": 0}
    finally:
        drop_postgres_database(url)


async def test_on_postgres_audit_numbers_are_drawn_from_a_sequence_resolved_once():
    """`nextval` of a sequence named by a text looks the name up in the catalog for every entry
    (3.7 µs a number against 0.5 for a regclass: a tenth of the server's CPU under a flow of
    mutations). Both appends resolve it once a statement (migration 0035), and the function kept
    its plans off sequential scans (0034) across its replacement."""
    url = fresh_postgres_database()
    try:
        store = await open_store(url)
        await store.close()
        with psycopg.connect(url, autocommit=True) as conn:
            source, settings = conn.execute(
                "SELECT prosrc, proconfig FROM pg_proc WHERE proname = 'crossroads_audit_append'"
            ).fetchone()
        assert "nextval(pg_get_serial_sequence" not in source
        assert "nextval(v_sequence)" in source
        assert settings == ["enable_seqscan=off"]
        assert "nextval(pg_get_serial_sequence" not in audit_adapter._PG_APPEND
    finally:
        drop_postgres_database(url)
