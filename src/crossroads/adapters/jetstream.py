"""The production push queue: NATS JetStream, fed from the outbox (nats-py).

The outbox stays the source of truth: publishing writes the deliveries in the transaction that
accepts the mutation, and `feed` relays the push subscriptions' rows into one stream, in seq
order, remembering in the store how far it got (`relay_positions`).

One stream message carries a run of a subscription's consecutive deliveries (up to `batch` of
them, and within the server's payload limit), not one delivery: each stream message costs a
publish and its acknowledgement, a fetch and an acknowledgement, and on two cores that per-message
work, not the webhooks, was what bounded the deliveries a second. Its `Nats-Msg-Id` is the first
and last outbox seq it carries, so a relay that died between publishing and recording its
position, and publishes the same rows again, is deduplicated by the stream (within its duplicate
window); should the rows fall into other runs the second time, the overlap is delivered twice,
with the same CloudEvent ids, which at-least-once allows.

A run holds what the outbox accepted for the subscription since the relay's last round, so the
relay, unless it left rows behind, waits the push interval between rounds (`feed_batch`): under a
steady trickle its runs then grow with the load instead of staying one delivery long.

Each push subscription has a durable pull consumer on its own subject. One run at a time is
handed out unacknowledged (`max_ack_pending` 1), and a failed run is negatively acknowledged
with the back-off as its delay, so nothing behind it is delivered before it is: the subscriber
receives its messages in order, and the count of attempts is the stream's (`num_delivered`),
which survives a restart of the hub. Messages leave the stream when acknowledged (work-queue
retention): after the webhook took them, or once they are set aside as dead letters in the
outbox, where the operator sees and replays them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from ..domain.mutations import Subscription
from ..services.ports import Delivery, MutationStore, PushQueue

# Headers of the one-delivery messages earlier versions relayed; a stream may still hold some.
_SEQ, _PUBLISHER, _MUTATION, _SUBJECT_KEY, _SUBSCRIPTION = (
    "Crossroads-Seq",
    "Crossroads-Publisher",
    "Crossroads-Mutation",
    "Crossroads-Subject-Key",
    "Crossroads-Subscription",
)
DUPLICATE_WINDOW_SECONDS = 600.0
_PAYLOAD_MARGIN = (
    4096  # room under the server's max_payload for a run's index and headers (`fitted` checks)
)
log = logging.getLogger("crossroads.mutations")


class JetStreamPushQueue(PushQueue):
    waits = True  # `due` waits up to `poll_seconds` for a first message (a long poll)

    def __init__(
        self,
        connection,
        store: MutationStore,
        stream: str,
        *,
        batch: int,
        poll_seconds: float,
        ack_wait_seconds: float,
        feed_batch: int = 5000,
    ) -> None:
        self._nc = connection
        self._js = connection.jetstream()
        self._store = store
        self.stream = stream
        self._batch = batch
        self._poll = poll_seconds
        self._ack_wait = ack_wait_seconds
        self.feed_batch = feed_batch
        self._consumers: dict[str, object] = {}
        self._handed: dict[
            str, dict[int, object]
        ] = {}  # per subscription: seq -> its message, until settled

    @classmethod
    async def connect(
        cls,
        url: str,
        store: MutationStore,
        stream: str,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 (nats.connect's own timeout, passed on)
        connect_options: dict | None = None,
        **options,
    ) -> JetStreamPushQueue:
        """Connect and make sure the stream exists. Raises (the hub does not start) when NATS
        cannot be reached within `timeout`; once connected, the client reconnects for ever.
        `connect_options` go to nats.connect: TLS context, credentials file, token."""
        connection = await asyncio.wait_for(
            nats.connect(
                url,
                connect_timeout=min(5.0, timeout),
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                **(connect_options or {}),
            ),
            timeout,
        )
        queue = cls(connection, store, stream, **options)
        try:
            await queue._js.stream_info(stream)
        except NotFoundError:
            await queue._js.add_stream(
                StreamConfig(
                    name=stream,
                    subjects=[f"{stream}.>"],
                    retention=RetentionPolicy.WORK_QUEUE,
                    storage=StorageType.FILE,
                    duplicate_window=DUPLICATE_WINDOW_SECONDS,
                )
            )
        return queue

    def _subject(self, subscription_id: str) -> str:
        return f"{self.stream}.{subscription_id}"

    # Feeding, from the outbox ---------------------------------------------------------------

    async def feed(self) -> int:
        position = await self._store.relay_position(self.stream)
        rows = await self._store.push_deliveries_after(position, self.feed_batch)
        if rows:
            await self._publish(rows, "")
            await self._store.set_relay_position(self.stream, rows[-1].seq)
        return len(rows)

    async def requeue(self, seqs: list[int]) -> None:
        again = await self._store.deliveries(seqs)
        pushed = {s.id for s in await self._store.subscriptions() if s.mode == "push"}
        # A replay is a new message to the stream, not a duplicate of the first.
        await self._publish(
            [d for d in again if d.subscription in pushed], f".replay.{time.time_ns()}"
        )

    async def _publish(self, rows: list[Delivery], id_suffix: str) -> None:
        acks = []
        for each in runs(rows, self._batch, self._run_bytes()):
            for run, data in fitted(each, self._nc.max_payload):
                acks.append(
                    await self._js.publish_async(
                        self._subject(run[0].subscription),
                        data,
                        headers={"Nats-Msg-Id": f"{run[0].seq}-{run[-1].seq}{id_suffix}"},
                    )
                )
        await asyncio.gather(
            *acks
        )  # every one stored by the stream (or known to it) before moving on

    def _run_bytes(self) -> int:
        return max(_PAYLOAD_MARGIN, self._nc.max_payload - _PAYLOAD_MARGIN)

    # Delivering, to the dispatcher -----------------------------------------------------------

    async def _consumer(self, subscription: Subscription):
        """The subscription's durable consumer. One run at most is out unacknowledged: while a
        failed run waits out its back-off, the stream hands out nothing behind it."""
        consumer = self._consumers.get(subscription.id)
        if consumer is None:
            subject, durable = self._subject(subscription.id), f"push-{subscription.id}"
            config = ConsumerConfig(
                name=durable,
                durable_name=durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                max_ack_pending=1,
                ack_wait=self._ack_wait,
                filter_subject=subject,
            )
            consumer = await self._js.pull_subscribe(
                subject, durable=durable, stream=self.stream, config=config
            )
            if (await consumer.consumer_info()).config.max_ack_pending != 1:
                await self._js.add_consumer(
                    self.stream, config=config
                )  # made by an earlier version: updated
            self._consumers[subscription.id] = consumer
        return consumer

    async def due(self, subscription: Subscription, now_ms: int, limit: int) -> list[Delivery]:
        """The subscription's next run, whole (the relay made it no longer than the queue's
        `batch`, which the dispatcher's is), once the stream hands it out: the first time, or
        when the back-off of its last failure has run out."""
        consumer = await self._consumer(subscription)
        try:  # a long poll, which ends as soon as a run is there
            [message] = await consumer.fetch(1, timeout=self._poll)
        except NatsTimeout:
            return []
        run = _deliveries(message, subscription.id)
        handed = self._handed.setdefault(subscription.id, {})
        for delivery in run:
            handed[delivery.seq] = message
        return run

    async def delivered(self, subscription: Subscription, due: list[Delivery], at_ms: int) -> None:
        await self._store.delivered([d.seq for d in due], at_ms)
        await self._settle(subscription, due, lambda m: m.ack())

    async def failed(
        self,
        subscription: Subscription,
        due: list[Delivery],
        error: str,
        next_attempt_ms: int,
        dead_at_ms: int | None,
    ) -> None:
        await self._store.failed([d.seq for d in due], error, next_attempt_ms, dead_at_ms)
        if dead_at_ms is not None:  # set aside in the outbox: the stream moves on
            await self._settle(subscription, due, lambda m: m.ack())
            return
        delay = max(0.0, (next_attempt_ms - int(time.time() * 1000)) / 1000)
        await self._settle(subscription, due, lambda m: m.nak(delay=delay))

    async def _settle(self, subscription: Subscription, due: list[Delivery], action) -> None:
        handed = self._handed.get(subscription.id, {})
        settled: set[int] = set()
        # In order: a redelivery keeps the order of the negative acknowledgements.
        for delivery in due:
            message = handed.pop(delivery.seq, None)
            if message is not None and id(message) not in settled:
                settled.add(id(message))
                await action(message)

    async def forget(self, subscription_id: str) -> None:
        self._handed.pop(subscription_id, None)
        consumer = self._consumers.pop(subscription_id, None)
        if consumer is not None:
            await consumer.unsubscribe()
        with contextlib.suppress(NotFoundError):  # never made, or already gone
            await self._js.delete_consumer(self.stream, f"push-{subscription_id}")
        await self._js.purge_stream(self.stream, subject=self._subject(subscription_id))

    async def release(self, subscription_id: str | None = None) -> None:
        """Stop consuming one subscription, or all (this process no longer delivers them). A run
        handed out and not settled goes back at once (a negative acknowledgement), so that
        whoever delivers next need not wait out the acknowledgement wait behind it; should that
        fail, the stream hands it out again when the wait runs out, so nothing is lost."""
        for each in [subscription_id] if subscription_id is not None else list(self._consumers):
            consumer = self._consumers.pop(each, None)
            for message in {id(m): m for m in self._handed.pop(each, {}).values()}.values():
                try:
                    await message.nak()
                except Exception:
                    log.warning(
                        (
                            "run of subscription %s not handed back; JetStream hands it out again "
                            "after %.0f s"
                        ),
                        each,
                        self._ack_wait,
                        exc_info=True,
                    )
            if consumer is not None:
                await consumer.unsubscribe()

    async def close(self) -> None:
        await self.release()
        await self._nc.drain()


def runs(rows: list[Delivery], most: int, most_bytes: int) -> list[list[Delivery]]:
    """`rows` (in seq order) as runs of one subscription's deliveries, each run in seq order, of
    at most `most` deliveries and, but for a lone delivery larger than that, `most_bytes` of
    messages. A subscription's runs come in the order of their seqs."""
    open_runs: dict[str, tuple[list[Delivery], int]] = {}
    done: list[tuple[int, list[Delivery]]] = []
    for delivery in rows:
        run, size = open_runs.get(delivery.subscription, ([], 0))
        if run and (len(run) >= most or size + len(delivery.message) > most_bytes):
            done.append((run[0].seq, run))
            run, size = [], 0
        run.append(delivery)
        open_runs[delivery.subscription] = (run, size + len(delivery.message))
    done += [(run[0].seq, run) for run, _ in open_runs.values()]
    return [run for _, run in sorted(done, key=lambda item: item[0])]


def fitted(run: list[Delivery], max_payload: int) -> list[tuple[list[Delivery], bytes]]:
    """`run` packed, in halves (in order) where its index line took it past the server's limit.
    A lone delivery that does not fit is an error that names it and says what to change: the
    relay stops there, and tries again each round, rather than pass it by; nothing is lost, and
    the operator sees why in the log."""
    data = pack(run)
    if len(data) <= max_payload - _PAYLOAD_MARGIN // 4:  # the subject and headers count too
        return [(run, data)]
    if len(run) > 1:
        half = len(run) // 2
        return fitted(run[:half], max_payload) + fitted(run[half:], max_payload)
    raise RuntimeError(
        f"outbox delivery {run[0].seq} for subscription {run[0].subscription} is {len(data)} "
        "bytes in its stream message, more than the NATS server's max_payload "
        f"({max_payload}) allows: raise max_payload on the server, or lower "
        "CROSSROADS_MAX_BODY_BYTES under it"
    )


def pack(run: list[Delivery]) -> bytes:
    """One stream message for a run: a JSON index line (seq, publisher, mutation id, subject key,
    message length per delivery), then the messages back to back. The messages stay the bytes
    the outbox holds, to be joined into the webhook's batch as they are, never parsed again."""
    index = [[d.seq, d.publisher, d.mutation_id, d.subject_key.hex(), len(d.message)] for d in run]
    return (
        json.dumps(index, separators=(",", ":")).encode() + b"\n" + b"".join(d.message for d in run)
    )


def unpack(data: bytes, subscription: str, attempts: int) -> list[Delivery]:
    line, _, messages = data.partition(b"\n")
    deliveries, at = [], 0
    for seq, publisher, mutation_id, subject_key, length in json.loads(line):
        deliveries.append(
            Delivery(
                seq=seq,
                subscription=subscription,
                publisher=publisher,
                mutation_id=mutation_id,
                subject_key=bytes.fromhex(subject_key),
                message=messages[at : at + length],
                attempts=attempts,
            )
        )
        at += length
    return deliveries


def _deliveries(message, subscription: str) -> list[Delivery]:
    headers = message.headers or {}
    attempts = message.metadata.num_delivered - 1
    if _SEQ in headers:  # one delivery, as relayed before runs
        return [
            Delivery(
                seq=int(headers[_SEQ]),
                subscription=headers[_SUBSCRIPTION],
                publisher=headers[_PUBLISHER],
                mutation_id=headers[_MUTATION],
                subject_key=bytes.fromhex(headers[_SUBJECT_KEY]),
                message=message.data,
                attempts=attempts,
            )
        ]
    return unpack(message.data, subscription, attempts)
