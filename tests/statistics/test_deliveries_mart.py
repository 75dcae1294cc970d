"""The deliveries mart counts each delivery once, by its latest state: read by the deliveries'
changes (migration 0025), a dead letter the operator replays (and the hub then delivers) or
drops after it was extracted comes again in the next extraction with its new state, on SQLite
and PostgreSQL over real connections."""

from __future__ import annotations

import duckdb
import psycopg
import pytest

from crossroads.adapters.sql.migrate import _statements, available
from crossroads.adapters.sql.store import open_store
from crossroads.adapters.warehouse.duckdb import DuckDbWarehouse

from ..conftest import drop_postgres_database, fresh_postgres_database
from .data import AT_MS, FUND, inss
from .test_warehouse import HASHER, extraction

pytestmark = pytest.mark.anyio
DAY = 86_400_000


@pytest.fixture
async def store(store_url):
    opened = await open_store(store_url)
    yield opened
    await opened.close()


async def queue(store, count: int) -> list[int]:
    """`count` deliveries of one push subscription, waiting as the outbox queues them."""
    async with store.db.transaction() as tx:
        await tx.execute(
            "INSERT INTO subscriptions (id, institution, application, mutation_type,"
            " authorization_ref, mode, webhook_url, created_at_ms) VALUES ('sub-1', ?, 'app',"
            " 'address', 'A/1', 'push', 'https://fund.test/hook', 0)",
            (FUND,),
        )
        seqs = []
        for n in range(count):
            await tx.execute(
                "INSERT INTO mutations (publisher, id, mutation_type, version, subject_key,"
                " effective_day, digest, recipients, published_at_ms)"
                " VALUES ('nr', ?, 'address', '1', ?, 1, ?, 1, ?)",
                (f"m{n}", HASHER.key(inss(n)), b"d", AT_MS),
            )
            [seq] = await tx.fetchone(
                "INSERT INTO deliveries (subscription, publisher, mutation_id, subject_key,"
                " message) VALUES ('sub-1', 'nr', ?, ?, ?) RETURNING seq",
                (f"m{n}", HASHER.key(inss(n)), b"{}"),
            )
            seqs.append(seq)
    return seqs


def states(path) -> list[tuple[str, int]]:
    """The newest snapshot's deliveries mart: (state, delay) of each unit."""
    folder = path.with_name(path.name + ".marts")
    con = duckdb.connect(str(folder / (folder / "current").read_text()), read_only=True)
    try:
        return [
            tuple(row)
            for row in con.execute(
                "SELECT state, delay_ms FROM mart_deliveries ORDER BY ALL"
            ).fetchall()
        ]
    finally:
        con.close()


async def test_a_dead_letter_replayed_or_dropped_counts_once_by_its_latest_state(store, tmp_path):
    delivered, replayed, dropped, waiting = await queue(store, 4)
    path = tmp_path / "w.duckdb"
    warehouse = DuckDbWarehouse(path)
    mutations = store.mutations
    await mutations.delivered([delivered], AT_MS + 1_000)
    await mutations.failed([replayed, dropped, waiting], "unreachable", 0, AT_MS + 60_000)
    first = await extraction(store, warehouse).run()
    assert first.records["deliveries"] == 4
    assert states(path) == [("acknowledged", 1_000)] + [("given up", 60_000)] * 3

    # The operator replays two dead letters and drops one; the hub delivers one of the two
    # replayed, the other is waiting for its next push: the next extraction reads only these
    # three changes (each delivery as it now stands, once), and counts none of them dead.
    assert await mutations.replay([replayed, waiting]) == [replayed, waiting]
    await mutations.delivered([replayed], AT_MS + DAY)
    assert await mutations.drop([dropped], AT_MS + 2 * DAY) == [dropped]
    again = await extraction(store, warehouse).run()
    assert again.records["deliveries"] == 3
    assert states(path) == [
        ("acknowledged", 1_000),
        ("acknowledged", DAY),
        ("dropped", 2 * DAY),
    ]
    assert (await extraction(store, warehouse).run()).records["deliveries"] == 0

    # The one waiting dies again: given up once more, counted once.
    await mutations.failed([waiting], "unreachable", 0, AT_MS + 3 * DAY)
    assert (await extraction(store, warehouse).run()).records["deliveries"] == 1
    assert states(path) == [
        ("acknowledged", 1_000),
        ("acknowledged", DAY),
        ("dropped", 2 * DAY),
        ("given up", 3 * DAY),
    ]
    await warehouse.close()


async def test_a_delivery_waiting_for_its_push_holds_no_later_one_back(store, tmp_path):
    """A delivery read by its changes is read when it settles: one still on its way, however
    old, does not keep the ones settled after it out of the warehouse."""
    waiting, settled = await queue(store, 2)
    await store.mutations.delivered([settled], AT_MS + 2_000)
    warehouse = DuckDbWarehouse(tmp_path / "w.duckdb")
    assert (await extraction(store, warehouse).run()).records["deliveries"] == 1
    await store.mutations.delivered([waiting], AT_MS + 3_000)
    assert (await extraction(store, warehouse).run()).records["deliveries"] == 1
    await warehouse.close()
    assert states(tmp_path / "w.duckdb") == [("acknowledged", 2_000), ("acknowledged", 3_000)]


async def test_migration_0025_numbers_earlier_settled_deliveries_in_their_order_and_goes_on_after(
    store,
):
    """Deliveries settled before 0025 take change numbers in their outbox order (seq), those
    still waiting none; a delivery settled afterwards draws the next number, above them, on
    either store."""
    seqs = await queue(store, 4)
    async with store.db.transaction() as tx:
        for seq, acked, dead in zip(
            seqs, (AT_MS, None, None, AT_MS), (None, AT_MS, None, AT_MS), strict=True
        ):
            await tx.execute(
                "UPDATE deliveries SET acked_at_ms = ?, dead_at_ms = ?, changed = NULL"
                " WHERE seq = ?",
                (acked, dead, seq),
            )
    [(_, _, sql)] = [m for m in available(store.db.dialect) if m[0] == 25]
    numbering = [s for s in _statements(sql) if s.startswith(("UPDATE", "SELECT"))]
    async with store.db.transaction() as tx:
        for statement in numbering:
            await tx.execute(statement)
    rows = await store.db.fetchall("SELECT seq, changed FROM deliveries ORDER BY seq")
    assert [tuple(row) for row in rows] == list(zip(seqs, (1, 2, None, 3), strict=True))
    await store.mutations.delivered([seqs[2]], AT_MS)
    [row] = await store.db.fetchall("SELECT changed FROM deliveries WHERE seq = ?", (seqs[2],))
    assert row[0] == 4


async def test_a_working_file_that_took_the_deliveries_once_settled_reads_them_again(
    store, tmp_path
):
    """A working file written before the deliveries were read by their changes holds them
    without change numbers, at a position in the outbox's order: its deliveries and that
    position are dropped, and the stream reads every delivery from the start, each once, as it
    now stands."""
    replayed, acked = await queue(store, 2)
    await store.mutations.failed([replayed], "unreachable", 0, AT_MS + 60_000)
    await store.mutations.delivered([acked], AT_MS + 1_000)
    path = tmp_path / "w.duckdb"
    old = duckdb.connect(str(path))
    old.execute(
        "CREATE TABLE deliveries (seq BIGINT, institution VARCHAR, mutation_type VARCHAR,"
        " published_at_ms BIGINT, acked_at_ms BIGINT, dead_at_ms BIGINT, person VARCHAR)"
    )
    for seq, acked_at, dead_at in ((replayed, None, AT_MS + 60_000), (acked, AT_MS + 1_000, None)):
        old.execute(
            "INSERT INTO deliveries VALUES (?, ?, 'address', ?, ?, ?, 'p')",
            (seq, FUND, AT_MS, acked_at, dead_at),
        )
    old.execute("CREATE TABLE positions (stream VARCHAR PRIMARY KEY, position BIGINT, xact BIGINT)")
    old.execute("INSERT INTO positions VALUES ('deliveries', ?, 0)", (acked,))
    old.close()
    await store.mutations.replay([replayed])
    await store.mutations.delivered([replayed], AT_MS + DAY)
    warehouse = DuckDbWarehouse(path)
    report = await extraction(store, warehouse).run()
    await warehouse.close()
    assert report.records["deliveries"] == 2
    assert states(path) == [("acknowledged", 1_000), ("acknowledged", DAY)]


async def test_on_postgresql_a_change_waits_for_an_older_transaction_still_open(tmp_path):
    """The changes are read in commit order (commit_order.py): a dead letter committed while
    an older transaction of the store's database is open comes once that one ends, not before
    (its number might otherwise be passed by one still to commit). SQLite has one writer at a
    time, and no such gap."""
    url = fresh_postgres_database()
    store = await open_store(url)
    older = psycopg.connect(url)
    try:
        [dead] = await queue(store, 1)
        older.execute("SELECT pg_current_xact_id()")
        await store.mutations.failed([dead], "unreachable", 0, AT_MS + 60_000)
        warehouse = DuckDbWarehouse(tmp_path / "w.duckdb")
        assert (await extraction(store, warehouse).run()).records["deliveries"] == 0
        older.commit()
        assert (await extraction(store, warehouse).run()).records["deliveries"] == 1
        await warehouse.close()
    finally:
        older.close()
        await store.close()
        drop_postgres_database(url)
    assert states(tmp_path / "w.duckdb") == [("given up", 60_000)]
