"""One contract for the push queues (services/ports/push_queue.py), run against each: the
outbox itself (adapters/outbox_queue.py) and NATS JetStream fed from it (adapters/jetstream.py,
on the real server at CROSSROADS_TEST_NATS_URL), each over SQLite and PostgreSQL.

Times are real (JetStream's back-off runs on the server's clock): each test polls for what it
waits for, with a deadline.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import date

import nats
import pytest

from crossroads.adapters.jetstream import JetStreamPushQueue
from crossroads.adapters.outbox_queue import OutboxPushQueue
from crossroads.adapters.sql.store import open_store
from crossroads.domain.mutations import Mutation, Subscription
from crossroads.domain.registry import Institution

pytestmark = pytest.mark.anyio
NATS_URL = os.environ.get("CROSSROADS_TEST_NATS_URL", "nats://127.0.0.1:4222")
NR = "0403170701"
FUND = "0411905847"
PUSH = Subscription("s1", FUND, "app", "person.address", "A1", "push", "https://fund.test/hook")
RUN = 2  # the dispatcher's batch, and the relay's


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture(params=["outbox", "jetstream"])
async def queue(request, store_url):
    store = await open_store(store_url)
    await store.registry.put_institution(Institution(NR, "National Register"))
    await store.mutations.add_subscription(PUSH)
    stream = f"CROSSROADS_TEST_{uuid.uuid4().hex[:10]}"
    if request.param == "outbox":
        made = OutboxPushQueue(store.mutations)
    else:
        made = await JetStreamPushQueue.connect(
            NATS_URL, store.mutations, stream, batch=RUN, poll_seconds=0.1, ack_wait_seconds=5
        )
    made.store = store.mutations  # type: ignore[attr-defined]  # what the tests publish into
    yield made
    await made.close()
    if request.param == "jetstream":
        connection = await nats.connect(NATS_URL)
        await connection.jetstream().delete_stream(stream)
        await connection.close()
    await store.close()


async def publish(queue, *ids: str) -> None:
    for mutation_id in ids:
        mutation = Mutation(
            mutation_id,
            "person.address",
            "1",
            NR,
            "79122244457",
            b"k" * 16,
            date(2024, 5, 1),
            {"city": "Namur"},
            1,
        )
        message = b'{"id":"%s"}' % mutation_id.encode()
        await queue.store.publish(mutation, b"d", [(PUSH.id, message)])
    await queue.feed()


async def next_run(queue, seconds: float = 15) -> list:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = await queue.due(PUSH, now_ms(), RUN)
        if run:
            return run
        await asyncio.sleep(0.02)  # the poll's interval (JetStream's `due` itself waits too)
    raise AssertionError("no run came due in time")


def ids(run) -> list[str]:
    return [d.mutation_id for d in run]


async def test_runs_come_in_publishing_order_at_most_a_batch_long_and_once(queue):
    await publish(queue, "m1", "m2", "m3")
    seen = []
    while len(seen) < 3:
        run = await next_run(queue)
        assert 1 <= len(run) <= RUN and all(d.attempts == 0 for d in run)
        seen += ids(run)
        await queue.delivered(PUSH, run, now_ms())
    assert seen == ["m1", "m2", "m3"]
    assert await queue.due(PUSH, now_ms() + 10**9, RUN) == []
    assert await queue.store.due_pushes(PUSH.id, now_ms() + 10**9, 10) == []


async def test_a_failed_run_waits_out_its_back_off_and_nothing_overtakes_it(queue):
    await publish(queue, "m1", "m2", "m3")
    first = await next_run(queue)
    assert ids(first) == ["m1", "m2"]
    await queue.failed(PUSH, first, "provider_error: 503", now_ms() + 500, None)
    assert await queue.due(PUSH, now_ms(), RUN) == []  # m3 waits behind the failed run
    again = await next_run(queue)
    assert [(d.mutation_id, d.attempts) for d in again] == [("m1", 1), ("m2", 1)]
    await queue.delivered(PUSH, again, now_ms())
    assert ids(await next_run(queue)) == ["m3"]


async def test_a_dead_run_is_set_aside_in_the_outbox_and_comes_again_when_replayed(queue):
    await publish(queue, "m1", "m2", "m3")
    first = await next_run(queue)
    await queue.failed(PUSH, first, "provider_timeout: slow", now_ms(), now_ms())
    last = await next_run(queue)
    assert ids(last) == ["m3"]  # the queue moves on
    await queue.delivered(PUSH, last, now_ms())
    assert ids(await queue.store.dead_letters(10)) == ["m1", "m2"]
    replayed = await queue.store.replay([d.seq for d in first])
    await queue.requeue(replayed)
    again = await next_run(queue)
    assert [(d.mutation_id, d.attempts) for d in again] == [("m1", 0), ("m2", 0)]


async def test_a_forgotten_subscription_has_nothing_due(queue):
    await publish(queue, "m1", "m2")
    assert await queue.store.delete_subscription(PUSH.id)
    await queue.forget(PUSH.id)
    assert await queue.due(PUSH, now_ms() + 10**9, RUN) == []


@pytest.mark.parametrize("queue", ["jetstream"], indirect=True)
async def test_the_relay_moves_past_the_mailboxes_deliveries(queue, monkeypatch):
    # Read a few numbers a statement, so that mailbox deliveries fill whole windows: the relay's
    # position goes past them, not to be read again at every round, and what is pushed after
    # them still comes.
    from crossroads.adapters.sql import mutations as sql_mutations

    monkeypatch.setattr(sql_mutations, "FEED_WINDOW", 3)
    box = Subscription("p1", FUND, "box", "person.address", "A1")
    await queue.store.add_subscription(box)
    for n in range(10):
        mutation = Mutation(
            f"b{n}", "person.address", "1", NR, "79122244457", b"k" * 16, date(2024, 5, 1), {}, 1
        )
        await queue.store.publish(mutation, b"d", [(box.id, b"{}")])
    assert await queue.feed() == 0
    newest = (await queue.store.mailbox(FUND, "box", 0, 100))[-1].seq
    assert await queue.store.relay_position(queue.stream) == newest
    await publish(queue, "m1")
    run = await next_run(queue)
    assert ids(run) == ["m1"] and run[0].seq > newest
