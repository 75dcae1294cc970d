"""The mutation store's contract, on the in-memory fake (tests/fakes/), on SQLite and on
PostgreSQL over a real connection."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date

import pytest

from crossroads.adapters.sql.store import open_store
from crossroads.domain.mutations import Mutation, MutationType, Subscription
from crossroads.domain.registry import Institution

from ..conftest import drop_postgres_database, fresh_postgres_database
from ..fakes import MemoryStore

pytestmark = pytest.mark.anyio
NR = "0403170701"
FUND = "0411905847"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request, tmp_path):
    if request.param == "memory":
        opened = MemoryStore()
    else:
        url = (
            f"sqlite:///{tmp_path / 'store.sqlite3'}"
            if request.param == "sqlite"
            else fresh_postgres_database()
        )
        opened = await open_store(url)
    await opened.registry.put_institution(Institution(NR, "National Register"))
    yield opened
    await opened.close()
    if request.param == "postgres":
        drop_postgres_database(url)


def mutation(mutation_id: str, key: bytes = b"k" * 16) -> Mutation:
    return Mutation(
        mutation_id,
        "person.address",
        "1",
        NR,
        "79122244457",
        key,
        date(2024, 5, 1),
        {"city": "Namur"},
        1,
    )


async def test_types_keep_their_schema_and_the_highest_version_answers(store):
    for version in ("1", "2", "10"):
        assert await store.mutations.put_type(
            MutationType("person.address", version, "Address", NR, ("city",), {"type": "object"})
        )
    assert not await store.mutations.put_type(
        MutationType("person.address", "2", "Address (renamed)", NR, ("city", "street"))
    )
    assert (await store.mutations.get_type("person.address")).version == "10"
    renamed = await store.mutations.get_type("person.address", "2")
    assert (renamed.name, renamed.fields) == ("Address (renamed)", ("city", "street"))
    assert await store.mutations.get_type("person.death") is None
    assert [t.version for t in await store.mutations.list_types()] == ["1", "10", "2"]


async def test_a_type_keeps_its_name_and_description_in_other_languages(store):
    worded = MutationType(
        "person.address",
        "1",
        "Change of main residence",
        NR,
        ("city",),
        description="The new address.",
        name_translations={"nl": "Wijziging van hoofdverblijfplaats", "fr": "Changement"},
        description_translations={"de": "Die neue Adresse."},
    )
    await store.mutations.put_type(worded)
    assert await store.mutations.get_type("person.address", "1") == worded
    await store.mutations.put_type(replace(worded, description_translations={}))
    assert (await store.mutations.list_types())[0].description_translations == {}


async def test_one_subscription_per_application_and_type(store):
    first = Subscription("s1", FUND, "app", "person.address", "A1")
    assert await store.mutations.add_subscription(first)
    assert not await store.mutations.add_subscription(
        Subscription("s2", FUND, "app", "person.address", "A1")
    )
    assert await store.mutations.add_subscription(
        Subscription("s3", FUND, "other", "person.address", "A1", "push", "https://fund/hook")
    )
    assert [s.id for s in await store.mutations.subscriptions(mutation_type="person.address")] == [
        "s1",
        "s3",
    ]
    assert await store.mutations.subscriptions(institution=FUND, application="app") == [first]
    assert await store.mutations.delete_subscription(
        "s1"
    ) and not await store.mutations.delete_subscription("s1")


async def test_a_type_is_deleted_with_every_version_and_a_subscription_amended_in_place(store):
    for version in ("1", "2"):
        await store.mutations.put_type(
            MutationType("person.birth", version, "Birth", NR, ("date",))
        )
    await store.mutations.put_type(MutationType("person.address", "1", "Address", NR, ("city",)))
    assert await store.mutations.delete_type("person.birth")
    assert not await store.mutations.delete_type("person.birth")
    assert [t.code for t in await store.mutations.list_types()] == ["person.address"]
    pushed = Subscription("s1", FUND, "app", "person.address", "A1", "push", "https://fund/a")
    await store.mutations.add_subscription(pushed)
    amended = Subscription("s1", FUND, "app", "person.address", "A2", "push", "https://fund/b")
    assert await store.mutations.update_subscription(amended)
    assert await store.mutations.subscriptions(institution=FUND) == [amended]
    gone = Subscription("s9", FUND, "app", "person.address", "A2")
    assert not await store.mutations.update_subscription(gone)


async def test_publishing_is_idempotent_and_the_mailbox_is_ordered_per_subscriber(store):
    await store.mutations.add_subscription(Subscription("s1", FUND, "app", "person.address", "A1"))
    await store.mutations.add_subscription(Subscription("s2", NR, "app", "person.address", "A1"))
    assert (
        await store.mutations.publish(
            mutation("m1"), b"d1", [("s1", b'{"n":1}'), ("s2", b'{"n":1}')]
        )
        is None
    )
    assert (
        await store.mutations.publish(mutation("m1"), b"d1", [("s1", b'{"n":9}')]) == b"d1"
    )  # nothing stored twice
    for n in range(2, 6):
        assert (
            await store.mutations.publish(mutation(f"m{n}"), b"d", [("s1", b'{"n":%d}' % n)])
            is None
        )
    box = await store.mutations.mailbox(FUND, "app", 0, 100)
    assert [d.message for d in box] == [b'{"n":%d}' % n for n in range(1, 6)]
    assert [d.mutation_id for d in box] == ["m1", "m2", "m3", "m4", "m5"] and box == sorted(
        box, key=lambda d: d.seq
    )
    page = await store.mutations.mailbox(FUND, "app", box[1].seq, 2)
    assert [d.mutation_id for d in page] == ["m3", "m4"]
    # Acknowledging someone else's message does nothing; one's own, once.
    other = (await store.mutations.mailbox(NR, "app", 0, 10))[0]
    assert await store.mutations.ack(FUND, "app", [other.seq], 5) == 0
    assert await store.mutations.unacknowledged(FUND, "app", [other.seq]) == []
    assert [
        d.mutation_id
        for d in await store.mutations.unacknowledged(FUND, "app", [box[2].seq, box[0].seq])
    ] == ["m1", "m3"]
    assert await store.mutations.ack(FUND, "app", [box[0].seq, box[2].seq, box[2].seq], 5) == 2
    assert await store.mutations.ack(FUND, "app", [box[0].seq], 6) == 0
    assert [d.mutation_id for d in await store.mutations.mailbox(FUND, "app", 0, 100)] == [
        "m2",
        "m4",
        "m5",
    ]
    # Cancelling the subscription takes what was queued for it; the other subscriber keeps its own.
    assert await store.mutations.delete_subscription("s1")
    assert await store.mutations.mailbox(FUND, "app", 0, 100) == []
    assert len(await store.mutations.mailbox(NR, "app", 0, 100)) == 1


async def test_a_mailbox_page_merges_the_applications_subscriptions_in_seq_order(store):
    # One pull subscription a type: a page is the first deliveries of all of them in seq order,
    # narrowed by type or by mutation id when asked.
    await store.mutations.add_subscription(Subscription("a", FUND, "app", "person.address", "A1"))
    await store.mutations.add_subscription(Subscription("b", FUND, "app", "person.civil", "A1"))
    await store.mutations.add_subscription(Subscription("c", FUND, "other", "person.civil", "A1"))
    for n in range(12):
        await store.mutations.publish(
            mutation(f"m{n}"), b"d", [("a" if n % 3 else "b", b"{}"), ("c", b"{}")]
        )
    page = await store.mutations.mailbox(FUND, "app", 0, 5)
    assert [d.mutation_id for d in page] == ["m0", "m1", "m2", "m3", "m4"]
    assert [d.subscription for d in page] == ["b", "a", "a", "b", "a"]
    rest = await store.mutations.mailbox(FUND, "app", page[-1].seq, 100)
    assert [d.mutation_id for d in rest] == [f"m{n}" for n in range(5, 12)]
    civil = await store.mutations.mailbox(FUND, "app", 0, 100, mutation_type="person.civil")
    assert [d.mutation_id for d in civil] == ["m0", "m3", "m6", "m9"]
    [one] = await store.mutations.mailbox(FUND, "app", 0, 1, mutation_id="m7")
    assert (one.mutation_id, one.subscription) == ("m7", "a")
    assert (
        await store.mutations.mailbox(
            FUND, "app", 0, 1, mutation_type="person.civil", mutation_id="m7"
        )
        == []
    )
    assert await store.mutations.ack(FUND, "app", [page[0].seq, page[1].seq], 5) == 2
    assert [d.mutation_id for d in await store.mutations.mailbox(FUND, "app", 0, 2)] == [
        "m2",
        "m3",
    ]


async def test_concurrent_publications_of_one_id_store_it_once(store):
    await store.mutations.add_subscription(Subscription("s1", FUND, "app", "person.address", "A1"))
    outcomes = await asyncio.gather(
        *(store.mutations.publish(mutation("same"), b"d", [("s1", b"{}")]) for _ in range(5)),
        return_exceptions=True,
    )
    assert sorted(map(repr, outcomes)) == sorted([repr(None)] + [repr(b"d")] * 4)
    assert len(await store.mutations.mailbox(FUND, "app", 0, 100)) == 1


async def test_concurrent_batches_sharing_ids_in_opposite_orders_store_each_once(store):
    # Two publishers' retries racing, each batch listing the shared ids in its own order: on
    # PostgreSQL neither may wait for the other's rows while the other waits for its own (a
    # deadlock the server would break by failing one), and each id is stored, with its deliveries,
    # once.
    await store.mutations.add_subscription(Subscription("s1", FUND, "app", "person.address", "A1"))
    ids = [f"m{n:03}" for n in range(300)]
    batches = [ids, ids[::-1], ids[100:] + ids[:100], ids[::2] + ids[1::2]]
    sent = [batch for batch in batches for _ in range(2)]
    outcomes = await asyncio.gather(
        *(
            store.mutations.publish_many([(mutation(i), b"d", [("s1", i.encode())]) for i in batch])
            for batch in sent
        )
    )
    stored = [
        i
        for batch, found in zip(sent, outcomes, strict=True)
        for i, o in zip(batch, found, strict=True)
        if o is None
    ]
    assert sorted(stored) == ids
    assert all(o in (None, b"d") for found in outcomes for o in found)
    box = await store.mutations.mailbox(FUND, "app", 0, 5000)
    assert sorted(d.message for d in box) == [i.encode() for i in ids]


async def test_a_batch_stores_its_new_ids_and_names_the_digest_of_the_others(store):
    await store.mutations.add_subscription(Subscription("s1", FUND, "app", "person.address", "A1"))
    assert await store.mutations.publish(mutation("old"), b"d-old", [("s1", b'{"n":0}')]) is None
    batch = [
        (mutation(f"b{n}"), b"d", [("s1", b'{"n":%d}' % n)]) for n in range(1, 3501)
    ]  # more than one INSERT
    batch.insert(10, (mutation("old"), b"d-new", [("s1", b'{"n":-1}')]))
    batch.append((mutation("b7"), b"d", [("s1", b'{"n":-7}')]))  # the same id twice in one call
    outcomes = await store.mutations.publish_many(batch)
    assert outcomes[10] == b"d-old" and outcomes[-1] == b"d"
    assert [o for i, o in enumerate(outcomes) if i not in (10, len(outcomes) - 1)] == [None] * 3500
    box = await store.mutations.mailbox(FUND, "app", 0, 5000)
    assert [d.message for d in box] == [b'{"n":%d}' % n for n in range(0, 3501)]


async def test_push_queues_wait_die_and_replay_in_order(store):
    await store.mutations.add_subscription(
        Subscription("s1", FUND, "app", "person.address", "A1", "push", "https://fund/hook")
    )
    for n in range(1, 4):
        await store.mutations.publish(mutation(f"m{n}"), b"d", [("s1", b'{"n":%d}' % n)])
    due = await store.mutations.due_pushes("s1", 0, 2)
    assert [d.mutation_id for d in due] == ["m1", "m2"]
    await store.mutations.failed([d.seq for d in due], "provider_error: 503", 1_000, None)
    assert (
        await store.mutations.due_pushes("s1", 999, 2) == []
    )  # the head waits; nothing overtakes it
    again = await store.mutations.due_pushes("s1", 1_000, 2)
    assert [(d.mutation_id, d.attempts, d.last_error) for d in again] == [
        ("m1", 1, "provider_error: 503"),
        ("m2", 1, "provider_error: 503"),
    ]
    await store.mutations.failed([d.seq for d in again], "provider_timeout: slow", 2_000, 1_500)
    assert [d.mutation_id for d in await store.mutations.dead_letters(10)] == ["m1", "m2"]
    # Paged by the last seq of the page before, all members' and one institution's alike.
    [first] = await store.mutations.dead_letters(1)
    assert [d.mutation_id for d in await store.mutations.dead_letters(1, after=first.seq)] == ["m2"]
    assert [d.mutation_id for d in await store.mutations.dead_letters(5, FUND, first.seq)] == ["m2"]
    assert await store.mutations.dead_letters(5, FUND, again[-1].seq) == []
    assert [d.mutation_id for d in await store.mutations.due_pushes("s1", 0, 10)] == [
        "m3"
    ]  # the queue moves on
    await store.mutations.delivered([(await store.mutations.due_pushes("s1", 0, 10))[0].seq], 1_600)
    assert await store.mutations.due_pushes("s1", 10_000, 10) == []
    assert await store.mutations.replay([d.seq for d in again] + [999_999]) == sorted(
        d.seq for d in again
    )
    assert await store.mutations.dead_letters(10) == []
    assert [(d.mutation_id, d.attempts) for d in await store.mutations.due_pushes("s1", 0, 10)] == [
        ("m1", 0),
        ("m2", 0),
    ]


async def test_a_deleted_push_subscription_takes_its_waiting_deliveries_and_dead_letters(store):
    for name in ("s1", "s2"):
        await store.mutations.add_subscription(
            Subscription(name, FUND, f"app-{name}", "person.address", "A1", "push", "https://h")
        )
    for n in range(1, 4):
        await store.mutations.publish(
            mutation(f"m{n}"), b"d", [("s1", b'{"n":%d}' % n), ("s2", b'{"n":%d}' % n)]
        )
    first, dead, _waiting = await store.mutations.due_pushes("s1", 0, 3)
    await store.mutations.delivered([first.seq], 500)
    await store.mutations.failed([dead.seq], "provider_error: 503", 1_000, 1_000)
    other_dead = (await store.mutations.due_pushes("s2", 0, 1))[0]
    await store.mutations.failed([other_dead.seq], "provider_error: 503", 1_000, 1_000)
    assert await store.mutations.delete_subscription("s1")
    assert [d.subscription for d in await store.mutations.dead_letters(10)] == ["s2"]
    assert await store.mutations.due_pushes("s1", 10_000, 10) == []
    assert [d.seq for d in await store.mutations.deliveries([first.seq, dead.seq])] == [
        first.seq
    ]  # what was delivered stays, for the statistics; what nobody can receive now goes
    assert len(await store.mutations.due_pushes("s2", 10_000, 10)) == 2


async def test_a_relay_reads_the_push_deliveries_across_long_runs_of_others(store, monkeypatch):
    # The SQL stores read a window of outbox numbers a statement (made small here): the first
    # push deliveries come whole and in order however many mailbox deliveries lie between them.
    from crossroads.adapters.sql import mutations as sql_mutations

    monkeypatch.setattr(sql_mutations, "FEED_WINDOW", 4)
    await store.mutations.add_subscription(
        Subscription("s1", FUND, "app", "person.address", "A1", "push", "https://fund/hook")
    )
    await store.mutations.add_subscription(
        Subscription("p1", FUND, "app2", "person.address", "A1", "pull", None)
    )
    plan = [["p1"]] * 9 + [["s1", "p1"]] + [["p1"]] * 11 + [["s1"], ["s1"]] + [["p1"]] * 6
    for n, recipients in enumerate(plan):
        await store.mutations.publish(
            mutation(f"m{n}"), b"d", [(r, b'{"n":%d}' % n) for r in recipients]
        )
    pushed, reached = await store.mutations.push_deliveries_after(0, 100)
    assert [d.mutation_id for d in pushed] == ["m9", "m21", "m22"]
    newest = reached  # every push delivery read: the relay moves past the mailboxes' after m22
    assert newest == pushed[-1].seq + 6
    first, reached = await store.mutations.push_deliveries_after(0, 2)
    assert ([d.mutation_id for d in first], reached) == (["m9", "m21"], pushed[1].seq)
    after_first, reached = await store.mutations.push_deliveries_after(pushed[0].seq, 1)
    assert ([d.mutation_id for d in after_first], reached) == (["m21"], pushed[1].seq)
    assert await store.mutations.push_deliveries_after(pushed[-1].seq, 10) == ([], newest)
    assert await store.mutations.push_deliveries_after(newest, 10) == ([], newest)
    await store.mutations.delivered([pushed[1].seq], 1_000)
    assert [
        d.mutation_id for d in await store.mutations.undelivered_pushes(0, pushed[-1].seq, 10)
    ] == ["m9", "m22"]
    assert [
        d.mutation_id for d in await store.mutations.undelivered_pushes(0, pushed[1].seq, 10)
    ] == ["m9"]


async def test_a_dropped_dead_letter_is_closed_and_neither_listed_nor_replayed(store):
    await store.mutations.add_subscription(
        Subscription("s1", FUND, "app", "person.address", "A1", "push", "https://fund/hook")
    )
    for n in range(1, 3):
        await store.mutations.publish(mutation(f"m{n}"), b"d", [("s1", b'{"n":%d}' % n)])
    due = await store.mutations.due_pushes("s1", 0, 2)
    assert await store.mutations.drop([d.seq for d in due], 900) == []  # not dead yet: kept
    await store.mutations.failed([due[0].seq], "provider_error: 503", 1_000, 1_000)
    assert await store.mutations.drop([due[0].seq, 999_999], 1_100) == [due[0].seq]
    assert await store.mutations.dead_letters(10) == []
    assert await store.mutations.replay([due[0].seq]) == []
    [closed] = await store.mutations.deliveries([due[0].seq])
    assert closed.mutation_id == "m1"
    assert [d.mutation_id for d in await store.mutations.due_pushes("s1", 10_000, 10)] == ["m2"]


async def test_dead_letters_are_counted_all_not_only_as_many_as_a_page_lists(store):
    await store.mutations.add_subscription(
        Subscription("s1", FUND, "app", "person.address", "A1", "push", "https://fund/hook")
    )
    for n in range(1, 6):
        await store.mutations.publish(mutation(f"m{n}"), b"d", [("s1", b'{"n":%d}' % n)])
    due = [d.seq for d in await store.mutations.due_pushes("s1", 0, 5)]
    assert await store.mutations.count_dead_letters() == 0
    await store.mutations.failed(due[:4], "provider_error: 503", 1_000, 1_000)
    await store.mutations.failed(due[4:], "provider_error: 503", 5_000, None)  # waits, not dead
    assert await store.mutations.count_dead_letters() == 4
    assert len(await store.mutations.dead_letters(2)) == 2
    await store.mutations.drop(due[:1], 1_100)
    await store.mutations.replay(due[1:2])
    assert await store.mutations.count_dead_letters() == 2


async def test_what_still_waits_is_what_a_relay_re_sends_to_a_stream_that_lost_it(store):
    await store.mutations.add_subscription(
        Subscription("s1", FUND, "app", "person.address", "A1", "push", "https://fund/hook")
    )
    await store.mutations.add_subscription(
        Subscription("p1", FUND, "app2", "person.address", "A1", "pull", None)
    )
    for n in range(1, 6):
        await store.mutations.publish(
            mutation(f"m{n}"), b"d", [("s1", b'{"n":%d}' % n), ("p1", b'{"n":%d}' % n)]
        )
    pushed = [d.seq for d in (await store.mutations.push_deliveries_after(0, 10))[0]]
    assert len(pushed) == 5
    await store.mutations.delivered([pushed[0]], 1_000)  # m1 received
    await store.mutations.failed([pushed[1]], "provider_error: 503", 0, 1_000)  # m2 dead
    await store.mutations.failed([pushed[2]], "provider_error: 503", 5_000, None)  # m3 waits
    waiting = await store.mutations.undelivered_pushes(0, pushed[3], 10)
    assert [(d.mutation_id, d.attempts) for d in waiting] == [("m3", 1), ("m4", 0)]
    assert [d.mutation_id for d in await store.mutations.undelivered_pushes(0, pushed[3], 1)] == [
        "m3"
    ]
    assert await store.mutations.undelivered_pushes(pushed[2], pushed[2], 10) == []
    assert await store.mutations.undelivered([*pushed, 999_999]) == set(pushed[2:])
    await store.mutations.replay([pushed[1]])
    assert await store.mutations.undelivered(pushed[:2]) == {pushed[1]}


async def test_each_push_subscriptions_next_delivery_is_its_oldest_neither_delivered_nor_dead(
    store,
):
    for sub, mode, hook in (
        ("s1", "push", "https://fund/hook"),
        ("s2", "push", "https://fund/other"),
        ("p1", "pull", None),
    ):
        await store.mutations.add_subscription(
            Subscription(sub, FUND, sub, "person.address", "A1", mode, hook)
        )
    assert await store.mutations.push_heads() == []
    for n in range(1, 5):
        await store.mutations.publish(
            mutation(f"m{n}"), b"d", [(s, b'{"n":%d}' % n) for s in ("s1", "s2", "p1")]
        )
    by_sub = {s: [d.seq for d in await store.mutations.due_pushes(s, 0, 10)] for s in ("s1", "s2")}
    heads = await store.mutations.push_heads()
    assert [(h.subscription, h.seq, h.attempts) for h in heads] == [
        ("s1", by_sub["s1"][0], 0),
        ("s2", by_sub["s2"][0], 0),
    ]  # a pull subscription's mailbox is not pushed
    await store.mutations.delivered(by_sub["s1"][:1], 1_000)  # m1 received by s1
    await store.mutations.failed(by_sub["s1"][1:2], "provider_error: 503", 0, 1_000)  # m2 dead
    await store.mutations.failed(by_sub["s2"][:1], "provider_error: 503", 9_000, None)  # backs off
    heads = await store.mutations.push_heads()
    assert [(h.subscription, h.seq, h.attempts) for h in heads] == [
        ("s2", by_sub["s2"][0], 1),
        ("s1", by_sub["s1"][2], 0),
    ]
    await store.mutations.delivered(by_sub["s1"][2:] + by_sub["s2"], 2_000)
    assert await store.mutations.push_heads() == []


async def test_long_lists_of_ids_and_seqs_are_read_and_closed_whole(store):
    # 1,200 values: three `IN (…)` groups on SQLite, one array on PostgreSQL (sql/among.py).
    await store.mutations.add_subscription(
        Subscription("s1", FUND, "app", "person.address", "A1", "push", "https://fund/hook")
    )
    batch = [(mutation(f"m{n}"), b"d%d" % n, [("s1", b"{}")]) for n in range(1200)]
    assert await store.mutations.publish_many(batch) == [None] * 1200
    asked = [f"m{n}" for n in range(0, 1300, 2)]  # every other id, and 50 never published
    assert await store.mutations.digests(NR, asked) == {
        f"m{n}": b"d%d" % n for n in range(0, 1200, 2)
    }
    due = await store.mutations.due_pushes("s1", 10**15, 2000)
    seqs = [d.seq for d in due]
    assert len(seqs) == 1200
    await store.mutations.delivered(seqs[:1100], 5)
    assert await store.mutations.undelivered(seqs) == set(seqs[1100:])
    assert [d.seq for d in await store.mutations.deliveries(seqs[::-1])] == seqs
