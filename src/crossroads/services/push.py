"""Push delivery: the outbox's messages for push subscriptions, POSTed to their webhooks in order.

Each subscription is a queue. Its oldest waiting messages (up to a batch) go in one POST as a
CloudEvents JSON batch, signed by the hub (`X-Crossroads-Signature`, a detached JWS over the
body, as the hub signs requests to providers). A 2xx answer delivers them all; anything else,
or no answer, is one failed attempt for all of them: they wait, with exponential back-off and
jitter, and nothing behind them is sent before they are, so a subscriber receives its messages
in order. After the last attempt they are set aside as dead letters, which the operator sees and
can replay; the queue then moves on. Every delivery and every failure is audited, before the
outbox records it, so a failure to audit leaves the message to be sent again (at least once).
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Callable

from ..domain.audit import AuditRecord
from ..domain.errors import Refusal
from ..domain.mutations import Subscription
from .clock import Clock
from .ports import AuditLog, Delivery, MutationStore, ProviderClient, Signer

log = logging.getLogger("crossroads.mutations")
BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"


class PushDispatcher:
    def __init__(
        self, store: MutationStore, client: ProviderClient, signer: Signer, audit: AuditLog, clock: Clock, *,
        max_attempts: int, retry_base_seconds: float, retry_max_seconds: float, batch: int,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._client = client
        self._signer = signer
        self._audit = audit
        self._clock = clock
        self._max_attempts = max_attempts
        self._base = retry_base_seconds
        self._cap = retry_max_seconds
        self._batch = batch
        self._jitter = jitter
        self.failures = 0  # rounds that raised (a store or audit fault), for /metrics

    async def run(self, stop: asyncio.Event, leading: Callable[[], bool], interval: float) -> None:
        """Deliver until `stop`, in the process that `leading` says leads (one sender per store)."""
        while not stop.is_set():
            sent = 0
            if leading():
                try:
                    sent = await self.deliver_due()
                except Exception:  # logged and counted; the messages stay in the outbox for the next round
                    self.failures += 1
                    log.exception("push delivery round failed; retrying")
            if sent == 0:
                try:
                    await asyncio.wait_for(stop.wait(), interval)
                except asyncio.TimeoutError:
                    pass

    async def deliver_due(self) -> int:
        """One round: every push subscription's due messages. Returns how many were delivered."""
        subscriptions = [s for s in await self._store.subscriptions() if s.mode == "push" and s.webhook_url]
        delivered = await asyncio.gather(*(self._push(s) for s in subscriptions))
        return sum(delivered)

    def backoff_seconds(self, attempts: int) -> float:
        """Wait after `attempts` failures: doubling from the base, capped, then jittered into [½, 1]
        of that (so that subscribers that failed together do not all retry together)."""
        ceiling = min(self._cap, self._base * 2 ** min(attempts - 1, 60))
        return ceiling * (0.5 + self._jitter() / 2)

    async def _push(self, subscription: Subscription) -> int:
        now_ms = self._clock.now_ms()
        due = await self._store.due_pushes(subscription.id, now_ms, self._batch)
        if not due:
            return 0
        url = subscription.webhook_url or ""
        body = b"[" + b",".join(d.message for d in due) + b"]"
        signature = self._signer.sign_detached(body, {"aud": url, "iat": now_ms // 1000})
        try:
            reply = await self._client.post(url, body, {"Content-Type": BATCH_MEDIA_TYPE, "X-Crossroads-Signature": signature})
            if not 200 <= reply.status < 300:
                raise Refusal("provider_error", f"the webhook answered with HTTP status {reply.status}.")
        except Refusal as failure:
            await self._failed(subscription, due, failure, now_ms)
            return 0
        # Appended together, so that the audit writer commits them in one batch, not one by one.
        await asyncio.gather(*(self._audit.append(_record(subscription, d, now_ms, "ok", "mutation.deliver", {"via": "push"}))
                               for d in due))
        await self._store.delivered([d.seq for d in due], now_ms)
        return len(due)

    async def _failed(self, subscription: Subscription, due: list[Delivery], failure: Refusal, now_ms: int) -> None:
        attempts = due[0].attempts + 1
        dead = attempts >= self._max_attempts
        action = "mutation.dead_letter" if dead else "mutation.push_failed"
        await asyncio.gather(*(self._audit.append(_record(subscription, d, now_ms, failure.code, action,
                                                          {"via": "push", "attempts": attempts, "reason": failure.message[:200]}))
                               for d in due))
        next_ms = now_ms + int(self.backoff_seconds(attempts) * 1000)
        await self._store.failed([d.seq for d in due], f"{failure.code}: {failure.message}", next_ms, now_ms if dead else None)
        if dead:
            log.warning("%d message(s) for subscription %s are dead letters after %d attempts", len(due), subscription.id, attempts)


def _record(subscription: Subscription, delivery: Delivery, at_ms: int, outcome: str, action: str, detail: dict) -> AuditRecord:
    return AuditRecord(
        kind="mutation", at_ms=at_ms, outcome=outcome, action=action, consumer=subscription.institution,
        application=subscription.application, service=subscription.mutation_type,
        authorization=subscription.authorization, subject_hash=delivery.subject_key.hex(), target=delivery.mutation_id,
        providers=(delivery.publisher,), detail={"seq": delivery.seq, "subscription": subscription.id, **detail},
    )
