"""The production push queue: NATS JetStream, fed from the outbox (nats-py).

The outbox stays the source of truth: publishing writes the deliveries in the transaction that
accepts the mutation, and `feed` relays the push subscriptions' rows into one stream, in seq
order, remembering in the store how far it got (`relay_positions`). Each message's
`Nats-Msg-Id` is its outbox seq, so a relay that died between publishing and recording its
position, and publishes again, is deduplicated by the stream (within its duplicate window;
beyond it a subscriber may see the message twice, with the same CloudEvent id).

Each push subscription has a durable pull consumer on its own subject. At most `batch` of its
messages are handed out unacknowledged at a time (`max_ack_pending`), and a failed batch is
negatively acknowledged with the back-off as its delay, so nothing behind it is delivered
before it is: the subscriber receives its messages in order, and the count of attempts is the
stream's (`num_delivered`), which survives a restart of the hub. Messages leave the stream when
acknowledged (work-queue retention): after the webhook took them, or once they are set aside as
dead letters in the outbox, where the operator sees and replays them.
"""

from __future__ import annotations

import asyncio
import time

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from ..domain.mutations import Subscription
from ..services.ports import Delivery, MutationStore, PushQueue

_SEQ, _PUBLISHER, _MUTATION, _SUBJECT_KEY, _SUBSCRIPTION = (
    "Crossroads-Seq", "Crossroads-Publisher", "Crossroads-Mutation", "Crossroads-Subject-Key", "Crossroads-Subscription")
DUPLICATE_WINDOW_SECONDS = 600.0


class JetStreamPushQueue(PushQueue):
    waits = True  # `due` waits up to `poll_seconds` for a first message (a long poll)

    def __init__(self, connection, store: MutationStore, stream: str, *, batch: int, poll_seconds: float,
                 ack_wait_seconds: float, feed_batch: int = 1000) -> None:
        self._nc = connection
        self._js = connection.jetstream()
        self._store = store
        self.stream = stream
        self._batch = batch
        self._poll = poll_seconds
        self._ack_wait = ack_wait_seconds
        self._feed_batch = feed_batch
        self._consumers: dict[str, object] = {}
        self._handed: dict[str, dict[int, object]] = {}  # per subscription: seq -> message, until settled

    @classmethod
    async def connect(cls, url: str, store: MutationStore, stream: str, *, timeout: float = 10.0,
                      **options) -> "JetStreamPushQueue":
        """Connect and make sure the stream exists. Raises (the hub does not start) when NATS
        cannot be reached within `timeout`; once connected, the client reconnects for ever."""
        connection = await asyncio.wait_for(
            nats.connect(url, connect_timeout=min(5.0, timeout), allow_reconnect=True, max_reconnect_attempts=-1),
            timeout)
        queue = cls(connection, store, stream, **options)
        try:
            await queue._js.stream_info(stream)
        except NotFoundError:
            await queue._js.add_stream(StreamConfig(
                name=stream, subjects=[f"{stream}.>"], retention=RetentionPolicy.WORK_QUEUE,
                storage=StorageType.FILE, duplicate_window=DUPLICATE_WINDOW_SECONDS))
        return queue

    def _subject(self, subscription_id: str) -> str:
        return f"{self.stream}.{subscription_id}"

    # Feeding, from the outbox ---------------------------------------------------------------

    async def feed(self) -> int:
        position = await self._store.relay_position(self.stream)
        rows = await self._store.push_deliveries_after(position, self._feed_batch)
        if rows:
            await self._publish(rows, lambda d: str(d.seq))
            await self._store.set_relay_position(self.stream, rows[-1].seq)
        return len(rows)

    async def requeue(self, seqs: list[int]) -> None:
        again = await self._store.deliveries(seqs)
        pushed = {s.id for s in await self._store.subscriptions() if s.mode == "push"}
        stamp = time.time_ns()  # a replay is a new message to the stream, not a duplicate of the first
        await self._publish([d for d in again if d.subscription in pushed], lambda d: f"{d.seq}.replay.{stamp}")

    async def _publish(self, rows: list[Delivery], message_id) -> None:
        acks = [await self._js.publish_async(self._subject(d.subscription), d.message, headers={
            "Nats-Msg-Id": message_id(d), _SEQ: str(d.seq), _PUBLISHER: d.publisher, _MUTATION: d.mutation_id,
            _SUBJECT_KEY: d.subject_key.hex(), _SUBSCRIPTION: d.subscription}) for d in rows]
        await asyncio.gather(*acks)  # every one stored by the stream (or known to it) before moving on

    # Delivering, to the dispatcher -----------------------------------------------------------

    async def _consumer(self, subscription: Subscription):
        consumer = self._consumers.get(subscription.id)
        if consumer is None:
            subject = self._subject(subscription.id)
            consumer = await self._js.pull_subscribe(subject, durable=f"push-{subscription.id}", stream=self.stream,
                                                     config=ConsumerConfig(
                                                         ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                                                         max_ack_pending=self._batch, ack_wait=self._ack_wait,
                                                         filter_subject=subject))
            self._consumers[subscription.id] = consumer
        return consumer

    async def due(self, subscription: Subscription, now_ms: int, limit: int) -> list[Delivery]:
        consumer = await self._consumer(subscription)
        limit = min(limit, self._batch)
        # A fetch of n returns only when it has n or its time is up; so one message first (a long
        # poll that ends as soon as one is there), then as many more as the consumer says wait.
        try:
            messages = await consumer.fetch(1, timeout=self._poll)
        except NatsTimeout:
            return []
        more = min(limit - 1, messages[0].metadata.num_pending or 0)
        if more > 0:
            try:
                messages += await consumer.fetch(more, timeout=self._poll)
            except NatsTimeout:
                pass
        messages.sort(key=lambda m: m.metadata.sequence.stream)
        handed = self._handed.setdefault(subscription.id, {})
        due = []
        for message in messages:
            delivery = _delivery(message)
            handed[delivery.seq] = message
            due.append(delivery)
        return due

    async def delivered(self, subscription: Subscription, due: list[Delivery], at_ms: int) -> None:
        await self._store.delivered([d.seq for d in due], at_ms)
        await self._settle(subscription, due, lambda m: m.ack())

    async def failed(self, subscription: Subscription, due: list[Delivery], error: str, next_attempt_ms: int,
                     dead_at_ms: int | None) -> None:
        await self._store.failed([d.seq for d in due], error, next_attempt_ms, dead_at_ms)
        if dead_at_ms is not None:  # set aside in the outbox: the stream moves on
            await self._settle(subscription, due, lambda m: m.ack())
            return
        delay = max(0.0, (next_attempt_ms - int(time.time() * 1000)) / 1000)
        await self._settle(subscription, due, lambda m: m.nak(delay=delay))

    async def _settle(self, subscription: Subscription, due: list[Delivery], action) -> None:
        handed = self._handed.get(subscription.id, {})
        for delivery in due:  # in order: a redelivery keeps the order of the negative acknowledgements
            message = handed.pop(delivery.seq, None)
            if message is not None:
                await action(message)

    async def forget(self, subscription_id: str) -> None:
        self._handed.pop(subscription_id, None)
        consumer = self._consumers.pop(subscription_id, None)
        if consumer is not None:
            await consumer.unsubscribe()
        try:
            await self._js.delete_consumer(self.stream, f"push-{subscription_id}")
        except NotFoundError:
            pass
        await self._js.purge_stream(self.stream, subject=self._subject(subscription_id))

    async def release(self, subscription_id: str | None = None) -> None:
        """Stop consuming one subscription, or all (this process no longer delivers them);
        unsettled messages are redelivered to whoever delivers next once their acknowledgement
        wait runs out."""
        for each in [subscription_id] if subscription_id is not None else list(self._consumers):
            consumer = self._consumers.pop(each, None)
            if consumer is not None:
                await consumer.unsubscribe()
            self._handed.pop(each, None)

    async def close(self) -> None:
        await self.release()
        await self._nc.drain()


def _delivery(message) -> Delivery:
    headers = message.headers or {}
    return Delivery(seq=int(headers[_SEQ]), subscription=headers[_SUBSCRIPTION], publisher=headers[_PUBLISHER],
                    mutation_id=headers[_MUTATION], subject_key=bytes.fromhex(headers[_SUBJECT_KEY]),
                    message=message.data, attempts=message.metadata.num_delivered - 1, last_error=None, dead_at_ms=None)
