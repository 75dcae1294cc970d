"""Push delivery through NATS JetStream fed from the outbox, over a real NATS server and both
stores: in runs, in order, signed, audited, deduplicated when fed twice, retried with back-off
by the stream (nothing behind a failed run overtakes it), set aside as dead letters in the
outbox, replayed; a stream and consumer an earlier version left are still served."""

from __future__ import annotations

import asyncio
import json
import os
import uuid

import nats
import pytest

from crossroads.services.clock import Clock
from crossroads.services.push import PushDispatcher

from ..conftest import start_demo_hub
from ..support import AsgiProviderClient
from .test_mutations_api import (
    OPERATOR,
    Webhook,
    audit_records,
    move,
    publish,
    subscribe,
    with_test_type,
)

pytestmark = pytest.mark.anyio
NATS_URL = os.environ.get("CROSSROADS_TEST_NATS_URL", "nats://127.0.0.1:4222")


@pytest.fixture
async def nats_hub(tmp_path, store_url):
    stream = f"CROSSROADS_TEST_{uuid.uuid4().hex[:10]}"
    demo = await start_demo_hub(
        tmp_path,
        store_url,
        persons=60,
        mutation_backend="nats",
        nats_url=NATS_URL,
        nats_stream=stream,
        push_interval_seconds=0.1,
        push_batch=2,
    )
    try:
        yield await with_test_type(demo)
    finally:
        await demo.http.aclose()
        await demo.hub.close()
        connection = await nats.connect(NATS_URL)
        await connection.jetstream().delete_stream(stream)
        await connection.close()


def dispatcher(
    hub, webhook: Webhook, max_attempts: int = 3, back_off: float = 0.3
) -> PushDispatcher:
    return PushDispatcher(
        hub.hub.store.mutations,
        hub.hub.push_queue,
        AsgiProviderClient({"hooks.test:8443": webhook}),
        hub.hub.keys,
        hub.hub.store.audit,
        Clock(),
        max_attempts=max_attempts,
        retry_base_seconds=back_off,
        retry_max_seconds=max(1, back_off),
        batch=2,
        jitter=lambda: 1.0,
    )


async def deliver_until(
    push: PushDispatcher, webhook: Webhook, count: int, seconds: float = 10
) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while len(webhook.received) < count:
        assert asyncio.get_running_loop().time() < deadline, (
            f"{len(webhook.received)} of {count} delivered"
        )
        await push.deliver_due()


async def test_pushes_go_through_the_stream_in_order_and_a_second_feed_sends_nothing_twice(
    nats_hub,
):
    hub = nats_hub
    webhook = Webhook()
    assert (
        await subscribe(hub, mode="push", webhook_url="http://hooks.test:8443/events")
    ).status_code == 201
    assisted = hub.held_by("welfare")[:2]
    for number in range(5):
        assert (
            await publish(hub, move(f"j-{number}", assisted[number % 2], city=f"C{number}"))
        ).status_code == 201
    queue = hub.hub.push_queue
    assert await queue.feed() == 5
    info = await queue._js.stream_info(queue.stream)
    assert info.state.messages == 3, "five deliveries in runs of at most the push batch (2)"
    push = dispatcher(hub, webhook)
    await deliver_until(push, webhook, 5)
    assert [e["id"] for e in webhook.received] == [f"j-{n}" for n in range(5)]
    assert [len(json.loads(body)) for body in webhook.bodies] == [2, 2, 1]
    assert all(set(e["data"]) == {"city"} for e in webhook.received)
    assert await hub.hub.store.mutations.relay_position(queue.stream) > 0

    # A relay that died before recording its position feeds the same rows again: the stream
    # knows their ids and stores none of them again (each publication is acknowledged by the
    # stream before `feed` returns), and the subscriber receives nothing twice.
    before = (await queue._js.stream_info(queue.stream)).state
    assert before.messages == 0, "every run delivered is acknowledged and gone from the stream"
    await hub.hub.store.mutations.set_relay_position(queue.stream, 0)
    assert await queue.feed() == 5
    after = (await queue._js.stream_info(queue.stream)).state
    assert (after.last_seq, after.messages) == (before.last_seq, 0), "the stream stored a run again"
    assert await push.deliver_due() == 0
    assert len(webhook.received) == 5
    delivered = [r.target for r in await audit_records(hub) if r.action == "mutation.deliver"]
    assert delivered == [f"j-{n}" for n in range(5)]
    assert (
        await hub.hub.store.mutations.due_pushes(
            webhook_subscription(await hub.hub.store.mutations.subscriptions()), 0, 10
        )
        == []
    )


def webhook_subscription(subscriptions) -> str:
    [push] = [s for s in subscriptions if s.webhook_url == "http://hooks.test:8443/events"]
    return push.id


async def test_a_failing_webhook_is_retried_by_the_stream_in_order_then_dead_lettered_and_replayed(
    nats_hub,
):
    hub = nats_hub
    webhook = Webhook()
    assert (
        await subscribe(hub, mode="push", webhook_url="http://hooks.test:8443/events")
    ).status_code == 201
    assisted = hub.held_by("welfare")[:2]
    push = dispatcher(hub, webhook, max_attempts=3)
    webhook.failing = True
    for number in range(3):
        await publish(hub, move(f"f-{number}", assisted[number % 2]))
    started = asyncio.get_running_loop().time()
    deadline = started + 15
    while len(await hub.hub.store.mutations.dead_letters(10)) < 2:
        assert asyncio.get_running_loop().time() < deadline, (
            "the first batch never became dead letters"
        )
        await push.deliver_due()
    assert asyncio.get_running_loop().time() - started >= 0.3 + 0.6 - 0.05, (
        "the stream waited out the back-off"
    )
    dead = (await hub.http.get("/admin/dead-letters", headers=OPERATOR)).json()
    assert [(d["mutation_id"], d["attempts"]) for d in dead] == [("f-0", 3), ("f-1", 3)]

    webhook.failing = False
    await deliver_until(push, webhook, 1)
    assert [e["id"] for e in webhook.received] == ["f-2"], (
        "the queue moved on past the dead letters"
    )
    replayed = await hub.http.post(
        "/admin/dead-letters/replay", headers=OPERATOR, json={"seqs": [d["seq"] for d in dead]}
    )
    assert replayed.json() == {"replayed": 2}
    await deliver_until(push, webhook, 3)
    assert [e["id"] for e in webhook.received] == ["f-2", "f-0", "f-1"]
    records = await audit_records(hub)
    assert [r.target for r in records if r.action == "mutation.dead_letter"] == ["f-0", "f-1"]
    failed = [(r.target, r.outcome) for r in records if r.action == "mutation.push_failed"]
    assert failed.count(("f-0", "provider_error")) == failed.count(("f-1", "provider_error")) == 2
    assert failed.index(("f-0", "provider_error")) < failed.index(("f-1", "provider_error"))
    assert await hub.hub.store.mutations.dead_letters(10) == []


async def test_a_message_published_while_a_run_waits_out_its_back_off_does_not_overtake_it(
    nats_hub,
):
    hub = nats_hub
    webhook = Webhook()
    assert (
        await subscribe(hub, mode="push", webhook_url="http://hooks.test:8443/events")
    ).status_code == 201
    assisted = hub.held_by("welfare")[0]
    # A back-off long enough that it cannot run out between the two rounds below, however
    # loaded the machine (0.3 s did, under a full test run on two busy cores).
    push = dispatcher(hub, webhook, max_attempts=5, back_off=3)
    webhook.failing = True
    await publish(hub, move("o-0", assisted))
    await push.deliver_due()  # o-0 alone in its run: one failed attempt, back-off 3 s
    assert [r.target for r in await audit_records(hub) if r.action == "mutation.push_failed"] == [
        "o-0"
    ]
    webhook.failing = False
    await publish(hub, move("o-1", assisted))
    await push.deliver_due()  # o-1 has a run of its own and is due, but o-0 is not yet
    assert webhook.received == []
    await deliver_until(push, webhook, 2)
    assert [e["id"] for e in webhook.received] == ["o-0", "o-1"]


async def test_a_one_delivery_message_and_a_consumer_of_an_earlier_version_are_still_served(
    nats_hub,
):
    from nats.js.api import AckPolicy, ConsumerConfig

    hub = nats_hub
    webhook = Webhook()
    subscription = (
        await subscribe(hub, mode="push", webhook_url="http://hooks.test:8443/events")
    ).json()["id"]
    await publish(hub, move("v-0", hub.held_by("welfare")[0]))
    queue, store = hub.hub.push_queue, hub.hub.store.mutations
    [row], _ = await store.push_deliveries_after(0, 10)
    durable = f"push-{subscription}"
    await queue._js.add_consumer(
        queue.stream,
        ConsumerConfig(
            name=durable,
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            max_ack_pending=2,
            filter_subject=f"{queue.stream}.{subscription}",
        ),
    )
    await queue._js.publish(
        f"{queue.stream}.{subscription}",
        row.message,
        headers={
            "Nats-Msg-Id": str(row.seq),
            "Crossroads-Seq": str(row.seq),
            "Crossroads-Publisher": row.publisher,
            "Crossroads-Mutation": row.mutation_id,
            "Crossroads-Subject-Key": row.subject_key.hex(),
            "Crossroads-Subscription": subscription,
        },
    )
    await store.set_relay_position(queue.stream, row.seq)
    push = dispatcher(hub, webhook)
    await deliver_until(push, webhook, 1)
    assert [e["id"] for e in webhook.received] == ["v-0"]
    assert (await queue._js.consumer_info(queue.stream, durable)).config.max_ack_pending == 1
    assert await store.due_pushes(subscription, 0, 10) == []


async def test_a_run_handed_out_goes_back_at_once_when_its_process_lets_the_subscription_go(
    nats_hub,
):
    from crossroads.adapters.jetstream import JetStreamPushQueue

    hub = nats_hub
    subscription = (
        await subscribe(hub, mode="push", webhook_url="http://hooks.test:8443/events")
    ).json()["id"]
    [pushed] = [s for s in await hub.hub.store.mutations.subscriptions() if s.id == subscription]
    await publish(hub, move("h-0", hub.held_by("welfare")[0]))
    first = hub.hub.push_queue
    await first.feed()
    assert [d.mutation_id for d in await first.due(pushed, 0, 2)] == ["h-0"]
    # Another process takes the subscription over; its acknowledgement wait is 30 s.
    second = await JetStreamPushQueue.connect(
        NATS_URL,
        hub.hub.store.mutations,
        first.stream,
        batch=2,
        poll_seconds=0.5,
        ack_wait_seconds=30,
    )
    try:
        await first.release(subscription)
        deadline = (
            asyncio.get_running_loop().time() + 5
        )  # well within the 30 s wait it would otherwise take
        again = []
        while not again:
            assert asyncio.get_running_loop().time() < deadline, "the run was not handed back"
            again = await second.due(pushed, 0, 2)
        assert [(d.mutation_id, d.attempts) for d in again] == [("h-0", 1)]
    finally:
        await second.close()


async def test_without_its_nats_the_queue_does_not_open(tmp_path):
    from crossroads.adapters.jetstream import JetStreamPushQueue

    with pytest.raises((asyncio.TimeoutError, OSError)):
        await JetStreamPushQueue.connect(
            "nats://127.0.0.1:1",
            None,
            "NOWHERE",
            timeout=1.0,
            batch=1,
            poll_seconds=0.1,
            ack_wait_seconds=1,
        )


async def test_the_running_dispatcher_delivers_and_drops_the_consumer_of_a_cancelled_subscription(
    nats_hub,
):
    from nats.js.errors import NotFoundError

    from .test_mutations_api import call

    hub = nats_hub
    webhook = Webhook()
    subscribed = await subscribe(hub, mode="push", webhook_url="http://hooks.test:8443/events")
    subscription = subscribed.json()["id"]
    push = dispatcher(hub, webhook)
    stop = asyncio.Event()
    running = asyncio.create_task(push.run(stop, lambda: True, 0.05))
    try:
        await publish(hub, move("r-0", hub.held_by("welfare")[0]))
        deadline = asyncio.get_running_loop().time() + 10
        while [e["id"] for e in webhook.received] != ["r-0"]:
            assert asyncio.get_running_loop().time() < deadline, (
                "the running dispatcher did not deliver"
            )
            await asyncio.sleep(0.05)
        js = hub.hub.push_queue._js
        # Its durable consumer, named after the subscription and the stream's incarnation.
        [durable] = [
            c.name
            for c in await js.consumers_info(hub.hub.push_queue.stream)
            if c.name.startswith(f"push-{subscription}-")
        ]
        assert (
            await call(hub, "DELETE", f"/v1/subscriptions/{subscription}", hub.welfare)
        ).status_code == 204
        while True:
            assert asyncio.get_running_loop().time() < deadline, (
                "the cancelled subscription's consumer stayed"
            )
            try:
                await js.consumer_info(hub.hub.push_queue.stream, durable)
            except NotFoundError:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await running
    assert push.failures == 0
