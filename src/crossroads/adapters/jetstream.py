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

Should the stream be lost or made again empty (adapters/jetstream_stream.py), the relay finds out
at its next round, makes it again if it is missing, and sends again, from the outbox, every push
delivery it had fed that is neither delivered nor a dead letter (`feed`); a consumer gone with
the stream is made again by the process that delivers its subscription (`due`). A run that may
have been pushed before (sent again, or handed out before) is checked against the outbox before
it is handed out: what the outbox says was delivered is not pushed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from ..domain.mutations import Subscription
from ..services.ports import Delivery, MutationStore, PushQueue
from .jetstream_runs import PAYLOAD_MARGIN, RESENT, deliveries_of, fitted, resent, runs
from .jetstream_stream import PushStream

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
        replicas: int = 1,
        consumer_check_seconds: float = 5.0,
    ) -> None:
        """`consumer_check_seconds`: how often, while a subscription's consumer hands out nothing,
        the queue asks the server whether that consumer still exists and is not stalled (a
        consumer gone with its stream hands out nothing, silently)."""
        self._nc = connection
        self._js = connection.jetstream()
        self._store = store
        self.stream = stream
        self._stream = PushStream(self._js, stream, replicas)
        self._identity_key = f"{stream}.created"  # no stream name holds a dot: no relay's name
        self._identity: int | None = None  # of the stream this process's relay last fed
        self._batch = batch
        self._poll = poll_seconds
        self._ack_wait = ack_wait_seconds
        self.consumer_check_seconds = consumer_check_seconds
        self.feed_batch = feed_batch
        # Per subscription: its consumer, with the generation of the stream it was made on.
        self._consumers: dict[str, tuple[int, object]] = {}
        self._generation = 0  # grows each time this process finds the stream made again
        self._checked: dict[str, float] = {}  # per subscription: when its consumer was last seen
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
        """Connect and make sure the stream exists, with the replicas asked for. Raises (the hub
        does not start) when NATS cannot be reached within `timeout`, or refuses the stream;
        once connected, the client reconnects for ever. `connect_options` go to nats.connect:
        TLS context, credentials file, token."""
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
            await queue._stream.open()
        except Exception:
            await connection.close()
            raise
        return queue

    def _subject(self, subscription_id: str) -> str:
        return f"{self.stream}.{subscription_id}"

    async def trouble(self) -> str | None:
        return await self._stream.trouble(self._nc.is_connected)

    # Feeding, from the outbox ---------------------------------------------------------------

    async def feed(self) -> int:
        identity = await self._stream.identity()  # made again first, should it be missing
        if identity is None:  # missing, and not yet made again: the outbox keeps everything
            return 0
        if identity != self._identity:  # read from the store only when the stream is not the last
            if identity != await self._store.relay_position(self._identity_key):
                await self._reconcile(identity)
            elif self._identity is not None:  # reconciled by another process that relayed
                self._generation += 1
            self._identity = identity
        position = await self._store.relay_position(self.stream)
        rows, reached = await self._store.push_deliveries_after(position, self.feed_batch)
        if rows:
            await self._publish(rows, "")
        if reached > position:  # past the mailboxes' deliveries too, not to read them again
            await self._store.set_relay_position(self.stream, reached)
        return len(rows)

    async def _reconcile(self, identity: int) -> None:
        """The stream there is not the one the relay's position refers to: send again what the
        relay had fed and the outbox still holds undelivered, before anything newer (so each
        subscriber keeps its order), then record the stream's identity. Should this stop half
        way, the next round sends it all again: the stream drops the ids it knows (within its
        duplicate window), and `due` skips what the outbox says was delivered."""
        known = await self._store.relay_position(self._identity_key)
        position = await self._store.relay_position(self.stream)
        sent, after = 0, 0
        while True:
            rows = await self._store.undelivered_pushes(after, position, self.feed_batch)
            if rows:
                await self._publish(rows, f".again.{identity}", resent=True)
                sent, after = sent + len(rows), rows[-1].seq
            if len(rows) < self.feed_batch:
                break
        await self._store.set_relay_position(self._identity_key, identity)
        self._generation += 1  # this process's consumers were made on the stream that went
        self.reconciled += sent
        if known:
            self.stream_losses += 1
            log.warning(
                "JetStream stream %s was lost or made again since the relay fed it: sent %d "
                "undelivered push deliveries again from the outbox (up to seq %d)",
                self.stream,
                sent,
                position,
            )
        elif position:  # fed by a version that did not record the stream's identity
            log.warning(
                "JetStream stream %s: its identity was not recorded (an earlier version fed it); "
                "sent %d undelivered push deliveries again from the outbox (up to seq %d), which "
                "are not pushed twice",
                self.stream,
                sent,
                position,
            )

    async def requeue(self, seqs: list[int]) -> None:
        again = await self._store.deliveries(seqs)
        pushed = {s.id for s in await self._store.subscriptions() if s.mode == "push"}
        # A replay is a new message to the stream, not a duplicate of the first.
        await self._publish(
            [d for d in again if d.subscription in pushed], f".replay.{time.time_ns()}"
        )

    async def _publish(self, rows: list[Delivery], id_suffix: str, resent: bool = False) -> None:
        acks = []
        for each in runs(rows, self._batch, self._run_bytes()):
            for run, data in fitted(each, self._nc.max_payload):
                headers = {"Nats-Msg-Id": f"{run[0].seq}-{run[-1].seq}{id_suffix}"}
                if resent:  # the failed attempts counted so far go on counting
                    headers[RESENT] = str(run[0].attempts)
                acks.append(
                    await self._js.publish_async(
                        self._subject(run[0].subscription), data, headers=headers
                    )
                )
        await asyncio.gather(
            *acks
        )  # every one stored by the stream (or known to it) before moving on

    def _run_bytes(self) -> int:
        return max(PAYLOAD_MARGIN, self._nc.max_payload - PAYLOAD_MARGIN)

    # Delivering, to the dispatcher -----------------------------------------------------------

    async def _consumer(self, subscription: Subscription):
        """The subscription's durable consumer. One run at most is out unacknowledged: while a
        failed run waits out its back-off, the stream hands out nothing behind it."""
        made = self._consumers.get(subscription.id)
        if made is not None and made[0] == self._generation:
            return made[1]
        if made is not None:  # made on a stream that is gone: made again on the one there now
            await self._drop(subscription.id)
        subject, durable = self._subject(subscription.id), await self._durable(subscription.id)
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
        self._consumers[subscription.id] = (self._generation, consumer)
        self._checked[subscription.id] = time.monotonic()
        return consumer

    async def _durable(self, subscription_id: str) -> str:
        """The name of the subscription's consumer on the stream there now. It carries the
        stream's identity: an acknowledgement names the stream and the consumer, not their
        incarnation, so one sent late for a run of a stream that was lost would otherwise settle
        whatever the stream made again holds at that sequence (the server does not check). A
        consumer an earlier version named without it is kept while its stream lasts."""
        legacy = f"push-{subscription_id}"
        try:
            await self._js.consumer_info(self.stream, legacy)
            return legacy
        except NotFoundError:
            return f"{legacy}-{await self._stream.identity(make=False) or 0:x}"

    async def _drop(self, subscription_id: str) -> None:
        made = self._consumers.pop(subscription_id, None)
        if made is not None:
            with contextlib.suppress(Exception):  # its subscription may be gone with the stream
                await made[1].unsubscribe()

    async def due(
        self, subscription: Subscription, now_ms: int, limit: int, after: int = 0
    ) -> list[Delivery]:
        """The subscription's next run, whole (the relay made it no longer than the queue's
        `batch`, which the dispatcher's is), once the stream hands it out: the first time, or
        when the back-off of its last failure has run out. A run that may have been pushed
        before comes without what the outbox says was delivered (or set aside) since."""
        try:
            consumer = await self._consumer(subscription)
        except NotFoundError:  # the stream is missing: nothing is due until the relay makes it
            await asyncio.sleep(self._poll)  # as long as a poll would have waited
            return []
        try:  # a long poll, which ends as soon as a run is there
            [message] = await consumer.fetch(1, timeout=self._poll)
        except NatsTimeout:
            await self._check(subscription.id, consumer)
            return []
        self._checked[subscription.id] = time.monotonic()
        run = deliveries_of(message, subscription.id)
        if resent(message):
            waiting = await self._store.undelivered([d.seq for d in run])
            run = [d for d in run if d.seq in waiting]
            if not run:  # all delivered already (or dead letters): the stream moves on
                await message.ack()
                return []
        handed = self._handed.setdefault(subscription.id, {})
        for delivery in run:
            handed[delivery.seq] = message
        return run

    async def _check(self, subscription_id: str, consumer) -> None:
        """A consumer that hands out nothing may be gone (with its stream), or stalled: asked
        about, at most every `consumer_check_seconds`, and made again when either. Stalled is
        holding runs with none out (a run waiting out its back-off counts as out) while a fetch
        found nothing: seen on NATS 2.9 with a consumer made just after its stream was made
        again. Made again, it starts from the oldest run the stream holds, and, none being
        out, nothing is lost or handed out twice."""
        if time.monotonic() - self._checked.get(subscription_id, 0.0) < self.consumer_check_seconds:
            return
        self._checked[subscription_id] = time.monotonic()
        try:
            info = await consumer.consumer_info()
        except NotFoundError:
            log.warning(
                "JetStream consumer of push subscription %s is gone (with its stream?): making "
                "it again",
                subscription_id,
            )
            await self._drop(subscription_id)
            return
        if info.num_pending and not info.num_ack_pending:
            await self._drop(subscription_id)
            subject = self._subject(subscription_id)
            if not await self._stream.readable(subject):
                await self._stream.drop_broken(subject)
                return
            log.warning(
                "JetStream consumer %s holds %d run(s) and hands out none: making it again",
                info.name,
                info.num_pending,
            )
            with contextlib.suppress(NotFoundError):
                await self._js.delete_consumer(self.stream, info.name)

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
        self._checked.pop(subscription_id, None)
        made = self._consumers.pop(subscription_id, None)
        if made is not None:
            await made[1].unsubscribe()
        with contextlib.suppress(NotFoundError):  # never made, or already gone
            await self._js.delete_consumer(self.stream, await self._durable(subscription_id))
        await self._js.purge_stream(self.stream, subject=self._subject(subscription_id))

    async def release(self, subscription_id: str | None = None) -> None:
        """Stop consuming one subscription, or all (this process no longer delivers them). A run
        handed out and not settled goes back at once (a negative acknowledgement), so that
        whoever delivers next need not wait out the acknowledgement wait behind it; should that
        fail, the stream hands it out again when the wait runs out, so nothing is lost."""
        for each in [subscription_id] if subscription_id is not None else list(self._consumers):
            made = self._consumers.pop(each, None)
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
            if made is not None:
                await made[1].unsubscribe()

    async def close(self) -> None:
        await self.release()
        await self._nc.drain()
