"""The JetStream push stream lost or made again empty while the hub runs, over a real NATS server,
both stores and a real HTTP webhook: the relay finds out, makes the stream again, sends again from
the outbox what was fed and not delivered, and every push arrives, once; it is logged and counted,
/ready says what is missing meanwhile, and a delivery that had been stranded can still die and be
replayed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid
from collections import Counter

import nats
import pytest
from aiohttp import web
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from crossroads.adapters.jetstream_stream import StreamUnavailable
from crossroads.adapters.provider_client import AiohttpProviderClient
from crossroads.demo import country
from crossroads.services.clock import Clock
from crossroads.services.push import PushDispatcher

from ..conftest import start_demo_hub
from .test_mutations_api import OPERATOR, audit_records, move, publish, subscribe, with_test_type

pytestmark = pytest.mark.anyio
NATS_URL = os.environ.get("CROSSROADS_TEST_NATS_URL", "nats://127.0.0.1:4222")


class Receiver:
    """A subscriber's webhook over real HTTP, in this event loop: records every event it accepts,
    answers 503 while `failing`, and runs `during` (once) in the middle of its `at`-th request."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.requests = 0
        self.failing = False
        self.at: int | None = None
        self.during = None
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests += 1
        if self.at == self.requests and self.during is not None:
            await self.during()  # the run being pushed was handed out by the stream now gone
        if self.failing:
            return web.Response(status=503)
        self.events += json.loads(body)
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/events", self._hook)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hooks/events"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def ids(self) -> list[str]:
        return [event["id"] for event in self.events]


@pytest.fixture
async def nats_admin():
    connection = await nats.connect(NATS_URL)
    yield connection.jetstream()
    await connection.close()


@pytest.fixture
async def setup(tmp_path, store_url, nats_admin):
    """A hub whose pushes go through a stream of its own, the welfare centre subscribed by
    webhook to a real HTTP receiver, and a dispatcher that pushes over real HTTP."""
    stream = f"CROSSROADS_TEST_{uuid.uuid4().hex[:10]}"
    hub = await start_demo_hub(
        tmp_path,
        store_url,
        persons=60,
        mutation_backend="nats",
        nats_url=NATS_URL,
        nats_stream=stream,
        push_interval_seconds=0.05,
        push_batch=2,
        allow_internal_webhooks=True,  # the receiver listens on 127.0.0.1
    )
    receiver = Receiver()
    await receiver.start()
    client = AiohttpProviderClient(2.0, 5.0, 4)
    try:
        await with_test_type(hub)
        welfare = country.BY_KEY["welfare"]
        answer = await hub.http.put(
            f"/admin/institutions/{welfare.number}",
            headers=OPERATOR,
            json={"name": welfare.name, "webhook_bases": [receiver.url.rsplit("/", 1)[0]]},
        )
        assert answer.status_code == 200, answer.text
        answer = await subscribe(hub, mode="push", webhook_url=receiver.url)
        assert answer.status_code == 201, answer.text
        hub.hub.push_queue.consumer_check_seconds = 0.5  # a stalled consumer: made again soon
        push = PushDispatcher(
            hub.hub.store.mutations,
            hub.hub.push_queue,
            client,
            hub.hub.keys,
            hub.hub.store.audit,
            Clock(),
            max_attempts=3,
            retry_base_seconds=0.1,
            retry_max_seconds=0.2,
            batch=2,
            jitter=lambda: 1.0,
            check_address=hub.hub.mutations.check_push,
        )
        yield hub, receiver, push
    finally:
        await client.close()
        await receiver.stop()
        await hub.http.aclose()
        await hub.hub.close()
        for name in (stream, f"{stream}_RIVAL"):
            with contextlib.suppress(NotFoundError):
                await nats_admin.delete_stream(name)


async def running(push: PushDispatcher):
    stop = asyncio.Event()
    task = asyncio.create_task(push.run(stop, lambda: True, 0.05))
    return stop, task


async def until(condition, what: str, seconds: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.05)


async def pushing_until(push: PushDispatcher, condition, what: str, seconds: float = 20) -> None:
    """Delivery passes (`deliver_due`: feed, then push what is due) until `condition()`."""

    async def pushed() -> bool:
        await push.deliver_due()
        return bool(await condition())

    await until(pushed, what, seconds)


async def settled(hub, nats_admin) -> bool:
    """Nothing left to push: the outbox holds nothing undelivered, the stream nothing at all."""
    mutations, stream = hub.hub.store.mutations, hub.hub.push_queue.stream
    pushed = [d.seq for d in (await mutations.push_deliveries_after(0, 10_000))[0]]
    if await mutations.undelivered(pushed):
        return False
    try:
        return (await nats_admin.stream_info(stream)).state.messages == 0
    except NotFoundError:
        return False


async def arrived(receiver: Receiver, count: int) -> bool:
    return len(receiver.events) >= count


async def attempted(receiver: Receiver, count: int) -> bool:
    return receiver.requests >= count


def empty_stream(name: str, subjects: str | None = None) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=[f"{subjects or name}.>"],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
    )


async def test_the_stream_deleted_mid_delivery_every_push_still_arrives_once(
    setup, nats_admin, caplog
):
    hub, receiver, push = setup
    queue = hub.hub.push_queue
    assisted = hub.held_by("welfare")[:3]
    deleted = asyncio.Event()

    async def delete_stream() -> None:
        await nats_admin.delete_stream(queue.stream)
        deleted.set()

    receiver.at, receiver.during = 2, delete_stream  # while the second run is being pushed
    caplog.set_level(logging.WARNING, "crossroads.mutations")
    for n in range(12):
        assert (await publish(hub, move(f"s-{n}", assisted[n % 3]))).status_code == 201
    stop, task = await running(push)
    try:
        await asyncio.wait_for(deleted.wait(), 20)
        for n in range(12, 20):  # published while the stream is gone, or just made again
            assert (await publish(hub, move(f"s-{n}", assisted[n % 3]))).status_code == 201
        await until(lambda: settled(hub, nats_admin), f"not all pushed: {receiver.ids()}")
    finally:
        stop.set()
        await task
    assert Counter(receiver.ids()) == Counter(f"s-{n}" for n in range(20)), "lost or twice"
    assert receiver.ids() == [f"s-{n}" for n in range(20)], "out of order"
    delivered = [r.target for r in await audit_records(hub) if r.action == "mutation.deliver"]
    assert Counter(delivered) == Counter(f"s-{n}" for n in range(20))
    # s-0 and s-1 were pushed, s-2 and s-3 were being pushed: the stream lost s-4 to s-11.
    assert queue.stream_losses == 1 and queue.reconciled >= 8
    assert "was lost or made again" in caplog.text and "is missing" in caplog.text
    metrics = (await hub.http.get("/metrics")).text
    assert "crossroads_push_stream_losses_total 1.0" in metrics
    assert f"crossroads_push_reconciled_total {queue.reconciled}.0" in metrics


async def test_a_stream_made_again_empty_gets_what_it_lost_from_the_outbox_and_no_more(
    setup, nats_admin, caplog
):
    hub, receiver, push = setup
    queue = hub.hub.push_queue
    assisted = hub.held_by("welfare")[0]
    for n in range(6):
        await publish(hub, move(f"e-{n}", assisted))
    assert await queue.feed() == 6
    while len(receiver.events) < 2:  # the first run is delivered before the loss
        await push.deliver_due()
    assert receiver.ids() == ["e-0", "e-1"]
    # Another process, started while the stream was gone, made it again: empty, same name.
    await nats_admin.delete_stream(queue.stream)
    await nats_admin.add_stream(empty_stream(queue.stream))
    await publish(hub, move("e-6", assisted))
    caplog.set_level(logging.WARNING, "crossroads.mutations")
    await pushing_until(push, lambda: arrived(receiver, 7), f"not all pushed: {receiver.ids()}")
    assert receiver.ids() == [f"e-{n}" for n in range(7)]
    assert (queue.stream_losses, queue.reconciled) == (1, 4)  # e-2 to e-5; e-6 is fed as new
    assert "sent 4 undelivered push deliveries again" in caplog.text
    for _ in range(3):  # nothing more comes, however often the dispatcher looks
        assert await push.deliver_due() == 0
    assert await settled(hub, nats_admin)
    assert len(receiver.events) == 7


async def test_a_stranded_delivery_keeps_its_attempts_dies_and_is_replayed(setup, nats_admin):
    hub, receiver, push = setup
    queue, mutations = hub.hub.push_queue, hub.hub.store.mutations
    await publish(hub, move("d-0", hub.held_by("welfare")[0]))
    receiver.failing = True
    await queue.feed()
    await pushing_until(push, lambda: attempted(receiver, 1), "no attempt")
    await nats_admin.delete_stream(queue.stream)  # lost while it waits out its back-off
    await pushing_until(push, lambda: mutations.dead_letters(10), "never became a dead letter")
    assert receiver.requests == 3, "the attempt before the loss counted towards the three"
    [dead] = await mutations.dead_letters(10)
    assert (dead.mutation_id, dead.attempts) == ("d-0", 3)
    receiver.failing = False
    replayed = await hub.http.post(
        "/admin/dead-letters/replay", headers=OPERATOR, json={"seqs": [dead.seq]}
    )
    assert replayed.json() == {"replayed": 1}
    await pushing_until(
        push, lambda: arrived(receiver, 1), "the replayed dead letter did not arrive"
    )
    assert receiver.ids() == ["d-0"]
    assert await settled(hub, nats_admin)


async def test_ready_names_a_stream_that_is_missing_and_cannot_be_made_again(setup, nats_admin):
    hub, _receiver, push = setup
    queue = hub.hub.push_queue
    assert (await hub.http.get("/ready")).json() == {"status": "ready"}
    await nats_admin.delete_stream(queue.stream)
    answer = await hub.http.get("/ready")
    assert answer.status_code == 200  # exchanges and mailboxes still work: degraded, not down
    assert answer.json()["status"] == "degraded"
    assert "is missing" in answer.json()["degraded"][0]
    # A stream of another name holds its subjects: it cannot be made again.
    await nats_admin.add_stream(empty_stream(f"{queue.stream}_RIVAL", queue.stream))

    async def delivering() -> bool:
        await push.deliver_due()
        return False

    with pytest.raises(StreamUnavailable, match="cannot be made"):  # once the relay tries
        await until(delivering, "the relay never tried to make the stream again", 10)
    answer = (await hub.http.get("/ready")).json()
    assert answer["status"] == "degraded" and "cannot be made" in answer["degraded"][0]
    await nats_admin.delete_stream(f"{queue.stream}_RIVAL")
    await push.deliver_due()
    assert (await hub.http.get("/ready")).json() == {"status": "ready"}


async def test_a_run_handed_out_again_after_it_was_delivered_is_not_pushed_twice(setup, nats_admin):
    hub, receiver, _push = setup
    queue, mutations = hub.hub.push_queue, hub.hub.store.mutations
    await publish(hub, move("t-0", hub.held_by("welfare")[0]))
    await queue.feed()
    [subscription] = [s for s in await mutations.subscriptions() if s.webhook_url == receiver.url]
    run = []
    while not run:
        run = await queue.due(subscription, 0, 2)
    # A process pushed it, and the outbox recorded it, but the process died before the stream
    # heard of it: the stream hands it out again.
    await mutations.delivered([d.seq for d in run], 1)
    await queue.release(subscription.id)
    for _ in range(5):
        assert await queue.due(subscription, 0, 2) == []
    assert (await nats_admin.stream_info(queue.stream)).state.messages == 0


async def test_replicas_the_servers_cannot_keep_stop_the_hub_and_name_the_setting(nats_admin):
    from crossroads.adapters.jetstream import JetStreamPushQueue

    stream = f"CROSSROADS_TEST_{uuid.uuid4().hex[:10]}"

    async def connect(replicas: int) -> JetStreamPushQueue:
        return await JetStreamPushQueue.connect(
            NATS_URL, None, stream, batch=1, poll_seconds=0.1, ack_wait_seconds=1, replicas=replicas
        )

    with pytest.raises(StreamUnavailable, match="CROSSROADS_NATS_STREAM_REPLICAS is 3"):
        await connect(3)
    await (await connect(1)).close()
    try:
        assert (await nats_admin.stream_info(stream)).config.num_replicas == 1
        with pytest.raises(StreamUnavailable, match="CROSSROADS_NATS_STREAM_REPLICAS asks for 3"):
            await connect(3)
        assert (await nats_admin.stream_info(stream)).config.num_replicas == 1
    finally:
        await nats_admin.delete_stream(stream)
