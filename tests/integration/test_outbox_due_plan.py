"""A push subscription's due messages are read by walking its queue, not its whole backlog.

The behaviour is checked on every store: the oldest due rows of one subscription, in order, past
its delivered and dead ones. On PostgreSQL the plan is checked too, both before the outbox has
statistics and after ANALYZE: an index scan of `deliveries_due` and no sort. The two plans the
planner chose before (a bitmap scan of the whole backlog, sorted; the primary key walked through
every delivered row) both read rows in proportion to the backlog, which made each batch slower as
a queue grew (docs/benchmarks.md, issue 22). The updates that settle deliveries by their numbers
(delivered, acknowledged, failed, replayed, dropped) follow the primary key alone, with or without
statistics: an index of the waiting rows ANDed with it made each update walk the whole backlog.
A mailbox's page reads that application's waiting deliveries only, not every member's backlog.
A publication's look-up of the ids already used reads no more rows than it has ids.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import date

import psycopg
import pytest

from crossroads.adapters.sql.among import among
from crossroads.adapters.sql.mutations import (
    DEAD_LETTERS,
    DEAD_LETTERS_OF,
    HEADS,
    PG_DEAD_LETTERS_OF,
    PG_DIGESTS,
    PG_DUE,
    SQLITE_DUE,
    pg_mailbox,
    settling,
)
from crossroads.adapters.sql.store import open_store
from crossroads.domain.mutations import Mutation, Subscription
from crossroads.domain.registry import Institution

from ..conftest import drop_postgres_database, fresh_postgres_database
from ..fakes import MemoryStore

pytestmark = pytest.mark.anyio
NR = "0403170701"
FUND = "0411905847"
SUBSCRIPTIONS = ("s0", "s1", "s2")
PER_SUBSCRIPTION = 1500


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def backlog(request, tmp_path):
    """A store whose outbox holds PER_SUBSCRIPTION messages for each of three push subscriptions,
    interleaved as a publisher's fan-out leaves them; s1's first 1,000 delivered, its next two
    dead letters. Yields (store, PostgreSQL URL or None)."""
    url = None
    if request.param == "memory":
        store = MemoryStore()
    else:
        url = (
            f"sqlite:///{tmp_path / 'store.sqlite3'}"
            if request.param == "sqlite"
            else fresh_postgres_database()
        )
        store = await open_store(url)
    await store.registry.put_institution(Institution(NR, "National Register"))
    for name in SUBSCRIPTIONS:
        await store.mutations.add_subscription(
            Subscription(name, FUND, f"app-{name}", "t", "A1", "push", "https://fund/hook")
        )
    await store.mutations.publish_many(
        [
            (
                Mutation(f"m{n}", "t", "1", NR, "79122244457", b"k" * 16, date(2024, 5, 1), {}, 1),
                b"d",
                [(name, b'{"n":%d}' % n) for name in SUBSCRIPTIONS],
            )
            for n in range(PER_SUBSCRIPTION)
        ]
    )
    head = await store.mutations.due_pushes("s1", 0, 1002)
    await store.mutations.delivered([d.seq for d in head[:1000]], 5)
    await store.mutations.failed([d.seq for d in head[1000:]], "provider_error: 503", 0, 6)
    yield store, url if request.param == "postgres" else None
    await store.close()
    if request.param == "postgres":
        drop_postgres_database(url)


async def test_the_oldest_due_messages_of_one_subscription_come_in_order(backlog):
    store, _ = backlog
    due = await store.mutations.due_pushes("s1", 0, 100)
    assert [d.mutation_id for d in due] == [f"m{n}" for n in range(1002, 1102)]
    assert {d.subscription for d in due} == {"s1"}
    assert [d.seq for d in due] == sorted(d.seq for d in due)
    others = await store.mutations.due_pushes("s2", 0, 3)
    assert [d.mutation_id for d in others] == ["m0", "m1", "m2"]


def _plan(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "EXPLAIN " + PG_DUE.replace("?", "%s"), (["s1"], 0, 100), prepare=False
        ).fetchall()
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize("backlog", ["postgres"], indirect=True)
async def test_postgresql_walks_the_due_index_with_or_without_statistics(backlog):
    _, url = backlog
    for moment in ("before ANALYZE", "after ANALYZE"):
        plan = _plan(url)
        assert "Index Scan using deliveries_due" in plan, (moment, plan)
        assert "Sort" not in plan and "Bitmap" not in plan, (moment, plan)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE deliveries")


def _settle_plan(url: str, condition: str, seqs: list[int]) -> str:
    """The plan of the update that settles `seqs`, as the outbox writes it: `condition` follows
    the seqs' own (among.py's, a binary array)."""
    [(among_seqs, values)] = among("postgres", "seq", seqs, "int8")
    statement = settling("postgres", "acked_at_ms = ?", f"{among_seqs} AND {condition}")
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "EXPLAIN " + statement.replace("?", "%s"), (5, *values), prepare=False
        ).fetchall()
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize("backlog", ["postgres"], indirect=True)
async def test_postgresql_settles_deliveries_by_their_primary_key_alone(backlog):
    store, url = backlog
    seqs = [d.seq for d in await store.mutations.due_pushes("s2", 0, 20)]
    for moment in ("before ANALYZE", "after ANALYZE"):
        # As delivered and acknowledged (the dead letters an operator replays or drops are read
        # by their own index, which holds only them).
        plan = _settle_plan(url, "acked_at_ms IS NULL", seqs)
        indexes = set(re.findall(r"Index (?:Only )?Scan (?:Backward )?(?:using|on) (\w+)", plan))
        assert indexes == {"deliveries_pkey"}, (moment, plan)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE deliveries")


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.parametrize("backlog", ["postgres"], indirect=True)
async def test_postgresql_reads_a_mailbox_page_without_reading_the_others_backlogs(backlog):
    store, url = backlog  # 3,000 pushes wait for s0 and s2, 498 for s1
    await store.mutations.add_subscription(Subscription("p", FUND, "box", "t", "A1"))
    await store.mutations.publish_many(
        [
            (
                Mutation(f"p{n}", "t", "1", NR, "79122244457", b"k" * 16, date(2024, 5, 1), {}, 1),
                b"d",
                [("p", b"{}")],
            )
            for n in range(300)
        ]
    )
    page = await store.mutations.mailbox(FUND, "box", 0, 100)
    assert [d.mutation_id for d in page] == [f"p{n}" for n in range(100)]
    statement, values = pg_mailbox(FUND, "box", 0, 100, None, None)
    for moment in ("before ANALYZE", "after ANALYZE"):
        with psycopg.connect(url, autocommit=True) as conn:
            [[[plan]]] = conn.execute(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + statement.replace("?", "%s"),
                values,
                prepare=False,
            ).fetchall()
            read = [
                n
                for n in _nodes(plan["Plan"])
                if n.get("Relation Name") == "deliveries"
                or n.get("Index Name", "").startswith("deliveries")
            ]
            # Along deliveries_due (walked, or its bitmap), and no more rows than the box's own
            # 300: the other subscriptions' 3,498 waiting, older than the box's, are not read.
            assert {n.get("Index Name") for n in read if "Index" in n["Node Type"]} == {
                "deliveries_due"
            }, (moment, plan)
            assert "Seq Scan" not in {n["Node Type"] for n in read}, (moment, plan)
            assert all(n["Actual Rows"] * n["Actual Loops"] <= 300 for n in read), (moment, plan)
            conn.execute("ANALYZE")


async def test_postgresql_looks_a_batchs_ids_up_by_the_whole_key_without_statistics():
    """Before a publication, the ids already used are read back with their digests. Asked as
    `publisher = ? AND id = ANY(…)` of a table never analysed, the planner took the publisher
    alone for the index condition and the ids for a filter; as a plain join it hashed the whole
    table: every mutation of the publisher read for each batch. Each id is looked up by the
    whole primary key, before and after ANALYZE: no more rows read than the batch has ids."""
    url = fresh_postgres_database()
    store = await open_store(url)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO mutations (publisher, id, mutation_type, version, subject_key,"
                " effective_day, digest, recipients, published_at_ms)"
                " SELECT %s, 'm-' || n, 't', '1', '\\x00'::bytea, 1, '\\x01'::bytea, 0, n"
                " FROM generate_series(1, 20000) n",
                (NR,),
            )
        ids = [f"m-{n}" for n in range(19951, 20051)]  # 50 used, 50 new
        assert sorted(await store.mutations.digests(NR, ids)) == sorted(ids[:50])
        for moment in ("before ANALYZE", "after ANALYZE"):
            with psycopg.connect(url, autocommit=True) as conn:
                [[[plan]]] = conn.execute(
                    "EXPLAIN (ANALYZE, FORMAT JSON) " + PG_DIGESTS.replace("?", "%s"),
                    (ids, NR),
                    prepare=False,
                ).fetchall()
                read = [n for n in _nodes(plan["Plan"]) if n.get("Relation Name") == "mutations"]
                assert read, (moment, plan)
                # Rows and rows removed are averages a loop (a probe an id is a loop each).
                assert all(
                    (n["Actual Rows"] + n.get("Rows Removed by Filter", 0)) * n["Actual Loops"]
                    <= len(ids)
                    for n in read
                ), (moment, plan)
                conn.execute("ANALYZE mutations")
    finally:
        await store.close()
        drop_postgres_database(url)


MANY = 10_000
OTHER = "0212345678"


def _instructions(path: str, sql: str, params: tuple) -> int:
    """SQLite's virtual machine instructions to run `sql`, to within a thousand: what a read
    costs, whatever the machine's speed."""
    conn = sqlite3.connect(path)
    try:
        ticks = 0

        def tick() -> int:
            nonlocal ticks
            ticks += 1
            return 0

        conn.set_progress_handler(tick, 1000)
        conn.execute(sql, params).fetchall()
        return ticks * 1000
    finally:
        conn.close()


async def test_sqlite_reads_past_a_members_dead_letters_at_no_cost(tmp_path):
    """A member whose webhook fails gathers dead letters, and an outbox keeps every delivered row.
    The reads of what is still due (the push workers' due read, the heads that /ready and
    /metrics read) and of the dead letters (the operator's list, an institution's page) must walk
    neither: on SQLite they ran on the event loop that serves every other member."""
    path = str(tmp_path / "store.sqlite3")
    store = await open_store(f"sqlite:///{path}")
    try:
        await store.registry.put_institution(Institution(NR, "National Register"))
        for name, institution in (("failing", FUND), ("healthy", OTHER), ("failing-too", FUND)):
            await store.mutations.add_subscription(
                Subscription(
                    name, institution, f"app-{name}", "t", "A1", "push", "https://fund/hook"
                )
            )

        def mutations(first: int, count: int):
            return [
                (
                    Mutation(
                        f"m{n}", "t", "1", NR, "79122244457", b"k" * 16, date(2024, 5, 1), {}, 1
                    ),
                    b"d",
                    [
                        (name, b'{"n":%d}' % n)
                        for name in ("failing", "healthy", "failing-too")
                        if name != "failing-too" or n % 1000 == 0
                    ],
                )
                for n in range(first, first + count)
            ]

        def cheap(sql: str, params: tuple) -> bool:
            # Walking the dead letters, or the delivered and waiting rows, took 5 instructions or
            # more each: 50,000 or more here.
            return _instructions(path, sql, params) < MANY

        await store.mutations.publish_many(mutations(0, MANY))
        delivered = await store.mutations.due_pushes("healthy", 0, MANY)
        await store.mutations.delivered([d.seq for d in delivered], 7)
        # No dead letter yet, and an outbox of delivered and waiting rows: nothing to walk.
        assert await store.mutations.dead_letters(50) == []
        assert cheap(DEAD_LETTERS, (0, 50))
        assert cheap(DEAD_LETTERS_OF, (0, FUND, 50))

        for name in ("failing", "failing-too"):
            doomed = await store.mutations.due_pushes(name, 0, MANY)
            await store.mutations.failed([d.seq for d in doomed], "provider_error: 503", 0, 6)
        await store.mutations.publish_many(mutations(MANY, 2))
        [last_of_healthy] = await store.mutations.due_pushes("healthy", 0, 1)
        await store.mutations.failed([last_of_healthy.seq], "provider_error: 503", 0, 8)

        due = await store.mutations.due_pushes("failing", 0, 100)
        assert [d.mutation_id for d in due] == [f"m{MANY}", f"m{MANY + 1}"]
        heads = await store.mutations.push_heads()
        assert sorted(h.subscription for h in heads) == ["failing", "failing-too", "healthy"]
        oldest = [("failing", "m0"), ("failing-too", "m0"), ("failing", "m1")]
        for institution in (None, FUND):
            found = await store.mutations.dead_letters(3, institution)
            assert [(d.subscription, d.mutation_id) for d in found] == oldest
        [theirs] = await store.mutations.dead_letters(50, OTHER)
        assert (theirs.subscription, theirs.mutation_id) == ("healthy", f"m{MANY}")
        for sql, params in (
            (SQLITE_DUE, ("failing", 0, 100)),
            (HEADS, ()),
            (DEAD_LETTERS, (0, 50)),
            (DEAD_LETTERS, (MANY // 2, 50)),  # a later page starts inside the index
            (DEAD_LETTERS_OF, (0, OTHER, 50)),
            (DEAD_LETTERS_OF, (0, FUND, 50)),
            (DEAD_LETTERS_OF, (MANY // 2, FUND, 50)),
        ):
            assert cheap(sql, params), sql
    finally:
        await store.close()


@pytest.mark.parametrize("backlog", ["postgres"], indirect=True)
async def test_postgresql_reads_dead_letters_along_their_own_indexes(backlog):
    """The operator's list and an institution's dead letters read the dead letters' indexes only,
    with or without statistics: never the outbox's delivered or waiting rows. An institution's
    read walks each of its subscriptions' dead letters in order and stops at the limit.
    (PostgreSQL may take the operator's few dead letters and sort them rather than walk them in
    order; that work is the server's, where on SQLite it is the hub's event loop's.)"""
    store, url = backlog
    doomed = await store.mutations.due_pushes("s0", 0, PER_SUBSCRIPTION)
    await store.mutations.failed([d.seq for d in doomed], "provider_error: 503", 0, 6)
    for moment in ("before ANALYZE", "after ANALYZE"):
        for sql, params, allowed in (
            (DEAD_LETTERS, (0, 50), {"deliveries_dead_by_seq", "deliveries_dead_of"}),
            (DEAD_LETTERS, (500, 50), {"deliveries_dead_by_seq", "deliveries_dead_of"}),
            (PG_DEAD_LETTERS_OF, (0, 50, FUND, 50), {"deliveries_dead_of"}),
            (PG_DEAD_LETTERS_OF, (500, 50, FUND, 50), {"deliveries_dead_of"}),
        ):
            with psycopg.connect(url, autocommit=True) as conn:
                rows = conn.execute(
                    "EXPLAIN " + sql.replace("?", "%s"), params, prepare=False
                ).fetchall()
            plan = "\n".join(row[0] for row in rows)
            indexes = set(
                re.findall(r"Index (?:Only )?Scan (?:Backward )?(?:using|on) (deliveries\w*)", plan)
            )
            assert indexes and indexes <= allowed, (moment, plan)
            assert "Seq Scan on deliveries" not in plan, (moment, plan)
            if params[0]:
                # A later page starts inside the index, not by filtering the rows before it.
                assert re.search(r"Index Cond: .*seq > ", plan), (moment, plan)
            if sql is PG_DEAD_LETTERS_OF:
                # Each subscription's walk (the innermost Limit) is in order: only the merge sorts.
                assert "Sort" not in plan.split("Limit")[-1], (moment, plan)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE deliveries")
    assert [d.mutation_id for d in await store.mutations.dead_letters(2)] == ["m0", "m1"]
    everything = await store.mutations.dead_letters(2 * PER_SUBSCRIPTION, FUND)
    assert len(everything) == PER_SUBSCRIPTION + 2
    assert [d.seq for d in everything] == sorted(d.seq for d in everything)
    assert [d.mutation_id for d in everything if d.subscription == "s1"] == ["m1000", "m1001"]
    after = everything[PER_SUBSCRIPTION // 2].seq  # a later page: the same rows, from there
    assert await store.mutations.dead_letters(2 * PER_SUBSCRIPTION, FUND, after) == [
        d for d in everything if d.seq > after
    ]
    assert await store.mutations.dead_letters(5, OTHER) == []


async def test_sqlite_reads_a_mailbox_page_without_reading_its_whole_backlog(tmp_path):
    """A mailbox left unread gathers a backlog; a page merges its subscriptions in order and reads
    about as many rows as it returns. (SQLite stops each subscription's walk of deliveries_due once
    its ordered, limited sort is full, so that one statement is enough: reading a subscription at
    a time was measured slower, 0.35 against 0.13 ms a page.)"""
    path = str(tmp_path / "store.sqlite3")
    store = await open_store(f"sqlite:///{path}")
    try:
        await store.registry.put_institution(Institution(NR, "National Register"))
        for name, kind in (("pull-t", "t"), ("pull-u", "u")):
            await store.mutations.add_subscription(
                Subscription(name, OTHER, "app-pull", kind, "A1", "pull", None)
            )
        await store.mutations.publish_many(
            [
                (
                    Mutation(
                        f"m{n}", "t", "1", NR, "79122244457", b"k" * 16, date(2024, 5, 1), {}, 1
                    ),
                    b"d",
                    [("pull-t", b"{}")] + ([("pull-u", b"{}")] if n % 1000 == 999 else []),
                )
                for n in range(MANY)
            ]
        )
        page = await store.mutations.mailbox(OTHER, "app-pull", 0, 3)
        assert [(d.subscription, d.mutation_id) for d in page] == [
            ("pull-t", "m0"),
            ("pull-t", "m1"),
            ("pull-t", "m2"),
        ]
        everything = await store.mutations.mailbox(OTHER, "app-pull", 0, 2 * MANY)
        assert len(everything) == MANY + MANY // 1000
        assert [d.seq for d in everything] == sorted(d.seq for d in everything)
        for at in (998, 999, 5000, len(everything) - 3):
            later = await store.mutations.mailbox(OTHER, "app-pull", everything[at].seq, 5)
            assert later == everything[at + 1 : at + 6]
        theirs = await store.mutations.mailbox(OTHER, "app-pull", 0, 3, mutation_type="u")
        assert [(d.subscription, d.mutation_id) for d in theirs] == [
            ("pull-u", "m999"),
            ("pull-u", "m1999"),
            ("pull-u", "m2999"),
        ]
        ticks = 0

        def tick() -> int:
            nonlocal ticks
            ticks += 1
            return 0

        store.db._reader.set_progress_handler(tick, 1000)
        await store.mutations.mailbox(OTHER, "app-pull", 0, 100)
        store.db._reader.set_progress_handler(None, 1000)
        # Reading and sorting the backlog took 5 instructions a row or more.
        assert ticks * 1000 < MANY

    finally:
        await store.close()
