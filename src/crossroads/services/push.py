"""Push delivery: the outbox's messages for push subscriptions, POSTed to their webhooks in order.

Each subscription is a queue. Its oldest waiting messages (up to a batch) go in one POST as a
CloudEvents JSON batch, signed by the hub (`X-Crossroads-Signature`, a detached JWS over the
body, as the hub signs requests to providers). A 2xx answer delivers them all; anything else,
or no answer, is one failed attempt for all of them: they wait, with exponential back-off and
jitter, and nothing behind them is sent before they are, so a subscriber receives its messages
in order. After the last attempt they are set aside as dead letters, which the operator sees and
can replay; the queue then moves on. Every delivery and every failure is audited, before the
outbox records it, so a failure to audit leaves the message to be sent again (at least once).

Where the messages wait is the queue's business (`PushQueue`): the outbox itself by default, or
a NATS JetStream stream the outbox feeds (adapters/jetstream.py). The leading process feeds the
queue; the push subscriptions are shared among the hub processes by partition
(services/push_partitions.py), and a process runs one worker per subscription it delivers, so
that a slow webhook holds only its own.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from ..domain.audit import AuditRecord
from ..domain.errors import Refusal
from ..domain.mutations import Subscription
from .cancellation import honour_lost_cancellation
from .clock import Clock, sleep_unless
from .ports import AuditLog, Delivery, MutationStore, ProviderClient, PushQueue, Signer
from .push_partitions import PushPartitions
from .push_settling import Settling, finished

log = logging.getLogger("crossroads.mutations")
BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"


class PushDispatcher:
    def __init__(
        self,
        store: MutationStore,
        queue: PushQueue,
        client: ProviderClient,
        signer: Signer,
        audit: AuditLog,
        clock: Clock,
        *,
        max_attempts: int,
        retry_base_seconds: float,
        retry_max_seconds: float,
        batch: int,
        jitter: Callable[[], float] = random.random,
        check_address: Callable[[Subscription], Awaitable[None]] | None = None,
    ) -> None:
        """`check_address(subscription)`, when given, refuses (Refusal) a push the registry no
        longer allows (MutationService.check_push: a webhook address withdrawn by the operator, a
        peer's member no longer recorded as that peer's): checked before every push, so that it
        is not sent to again (the push then fails and is retried)."""
        self._check_address = check_address
        self._store = store
        self._queue = queue
        self._client = client
        self._signer = signer
        self._audit = audit
        self._clock = clock
        self._max_attempts = max_attempts
        self._base = retry_base_seconds
        self._cap = retry_max_seconds
        self._batch = batch
        self._jitter = jitter
        self.failures = 0  # rounds that raised (a store, queue or audit fault), for /metrics

    async def run(
        self,
        stop: asyncio.Event,
        leading: Callable[[], bool],
        interval: float,
        partitions: PushPartitions | None = None,
    ) -> None:
        """Deliver until `stop`. The process that `leading` says leads feeds the queue; the push
        subscriptions delivered here are those of the `partitions` this process holds (without
        partitions: all of them, in the leading process only)."""
        workers: dict[str, asyncio.Task[None]] = {}
        try:
            while not stop.is_set():
                fed = 0
                try:
                    if leading():
                        fed = await self._queue.feed()
                    if partitions is not None or leading():
                        await self._supervise(workers, stop, interval, partitions)
                    elif workers:
                        await self._stop(workers)
                        await self._queue.release()
                except (
                    Exception
                ):  # logged and counted; the outbox keeps everything for the next round
                    self.failures += 1
                    log.exception("push delivery round failed; retrying")
                if (
                    fed < self._queue.feed_batch
                ):  # nothing left behind: let the next round's rows gather
                    await sleep_unless(stop, interval)
        finally:
            await self._stop(workers)

    async def _supervise(
        self,
        workers: dict[str, asyncio.Task[None]],
        stop: asyncio.Event,
        interval: float,
        partitions: PushPartitions | None,
    ) -> None:
        pushed = {
            s.id: s for s in await self._store.subscriptions() if s.mode == "push" and s.webhook_url
        }
        wanted = (
            pushed if partitions is None else {i: pushed[i] for i in partitions.mine(list(pushed))}
        )
        for subscription_id in [i for i in workers if i not in wanted]:
            worker = workers.pop(subscription_id)
            worker.cancel()
            # Its batch in flight is settled (audited, marked delivered) before the rows are let
            # go: another process could otherwise take and send them again meanwhile.
            await asyncio.gather(worker, return_exceptions=True)
            if subscription_id in pushed:  # another process delivers it now
                await self._queue.release(subscription_id)
            else:  # the subscription is gone
                await self._queue.forget(subscription_id)
        for subscription_id, subscription in wanted.items():
            if subscription_id not in workers or workers[subscription_id].done():
                workers[subscription_id] = asyncio.create_task(
                    self._work(subscription, stop, interval)
                )

    async def _work(self, subscription: Subscription, stop: asyncio.Event, interval: float) -> None:
        # The batch the webhook accepted last, while its audit records and delivered marks are
        # written (a queue that `pipelines`): the next batch is read and POSTed meanwhile.
        settling: Settling | None = None
        try:
            while not stop.is_set():
                honour_lost_cancellation()  # services/cancellation.py
                try:
                    sent, settling = await self._push(subscription, settling)
                    if sent == 0 and settling is not None:  # nothing behind it: finish it first
                        # Shielded: a cancelled worker leaves its batch's settling to finish.
                        await asyncio.shield(settling.task)
                        settling = None
                except Exception:  # logged and counted; the messages stay queued, tried again
                    self.failures += 1
                    log.exception(
                        "push delivery to subscription %s failed; retrying", subscription.id
                    )
                    if settling is not None and not settling.task.done():
                        await finished(settling)
                    settling = None
                    sent = -1
                if sent < 0 or (sent == 0 and not self._queue.waits):
                    await sleep_unless(stop, interval)
        finally:
            await finished(settling)

    @staticmethod
    async def _stop(workers: dict[str, asyncio.Task[None]]) -> None:
        for task in workers.values():
            task.cancel()
        await asyncio.gather(*workers.values(), return_exceptions=True)
        workers.clear()

    async def deliver_due(self) -> int:
        """One pass: feed the queue, then every push subscription's due messages, once. Returns
        how many were delivered."""
        await self._queue.feed()
        subscriptions = [
            s for s in await self._store.subscriptions() if s.mode == "push" and s.webhook_url
        ]
        outcomes = await asyncio.gather(
            *(self._push(s) for s in subscriptions), return_exceptions=True
        )
        # Every accepted batch is settled, even when another subscription's push failed; then
        # the first failure is raised, as a pass without pipelining would.
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        delivered = [o for o in outcomes if not isinstance(o, BaseException)]
        for _, settling in delivered:
            if settling is not None:
                try:
                    await settling.task
                except Exception as failure:
                    errors.append(failure)
        if errors:
            raise errors[0]
        return sum(sent for sent, _ in delivered)

    def backoff_seconds(self, attempts: int) -> float:
        """Wait after `attempts` failures: doubling from the base, capped, then jittered into [½, 1]
        of that (so that subscribers that failed together do not all retry together)."""
        # Annotated: typeshed types int ** int as Any (a negative exponent gives a float).
        ceiling: float = min(self._cap, self._base * 2 ** min(attempts - 1, 60))
        return ceiling * (0.5 + self._jitter() / 2)

    async def _push(
        self, subscription: Subscription, settling: Settling | None = None
    ) -> tuple[int, Settling | None]:
        """One batch: read, sign, POST. An accepted batch is settled (audited, then marked
        delivered) by a task that first waits for `settling`, the batch before, and fails with
        it; returned with the count (a queue that does not `pipelines` is settled here). A batch
        goes only once the one before was accepted; one whose settling fails goes again."""
        if settling is not None and settling.task.done():
            settling.task.result()  # the batch before failed to settle: raised, all sent again
            settling = None
        after = settling.last_seq if settling is not None else 0
        due = await self._queue.due(subscription, self._clock.now_ms(), self._batch, after)
        if not due:
            return 0, settling
        now_ms = (
            self._clock.now_ms()
        )  # the attempt's time, from which a back-off counts: `due` may have waited
        url = subscription.webhook_url or ""
        body = b"[" + b",".join(d.message for d in due) + b"]"
        signature = self._signer.sign_detached(body, {"aud": url, "iat": now_ms // 1000})
        try:
            if self._check_address is not None:
                await self._check_address(subscription)
            reply = await self._client.post(
                url, body, {"Content-Type": BATCH_MEDIA_TYPE, "X-Crossroads-Signature": signature}
            )
            if not 200 <= reply.status < 300:
                raise Refusal(
                    "provider_error", f"the webhook answered with HTTP status {reply.status}."
                )
        except Refusal as failure:
            # The batch before is settled first, its audit before ours; if it cannot be, it is
            # sent again later, and this refusal is still recorded (its audit and back-off).
            await finished(settling)
            await self._failed(subscription, due, failure, now_ms)
            return 0, None
        task = asyncio.create_task(self._settle(subscription, due, now_ms, settling))
        if not self._queue.pipelines:
            await task
            return len(due), None
        return len(due), Settling(task, due[-1].seq)

    async def _settle(
        self,
        subscription: Subscription,
        due: list[Delivery],
        now_ms: int,
        before: Settling | None,
    ) -> None:
        if before is not None:  # settled in order; a failure before leaves this batch unsettled
            await before.task
        # Appended together, so that the audit log commits them in one batch, not one by one.
        await self._audit.append_many(
            [
                _record(subscription, d, now_ms, "ok", "mutation.deliver", {"via": "push"})
                for d in due
            ]
        )
        await self._queue.delivered(subscription, due, now_ms)

    async def _failed(
        self, subscription: Subscription, due: list[Delivery], failure: Refusal, now_ms: int
    ) -> None:
        attempts = due[0].attempts + 1
        dead = attempts >= self._max_attempts
        action = "mutation.dead_letter" if dead else "mutation.push_failed"
        await self._audit.append_many(
            [
                _record(
                    subscription,
                    d,
                    now_ms,
                    failure.code,
                    action,
                    {"via": "push", "attempts": attempts, "reason": failure.message[:200]},
                )
                for d in due
            ]
        )
        next_ms = now_ms + int(self.backoff_seconds(attempts) * 1000)
        await self._queue.failed(
            subscription,
            due,
            f"{failure.code}: {failure.message}",
            next_ms,
            now_ms if dead else None,
        )
        if dead:
            log.warning(
                "%d message(s) for subscription %s are dead letters after %d attempts",
                len(due),
                subscription.id,
                attempts,
            )


def _record(
    subscription: Subscription,
    delivery: Delivery,
    at_ms: int,
    outcome: str,
    action: str,
    detail: dict[str, Any],
) -> AuditRecord:
    return AuditRecord(
        kind="mutation",
        at_ms=at_ms,
        outcome=outcome,
        action=action,
        consumer=subscription.institution,
        application=subscription.application,
        service=subscription.mutation_type,
        authorization=subscription.authorization,
        subject_hash=delivery.subject_key.hex(),
        target=delivery.mutation_id,
        providers=(delivery.publisher,),
        detail={"seq": delivery.seq, "subscription": subscription.id, **detail},
    )
