"""The embedded push queue: the outbox table itself (SQLite by default, PostgreSQL too).

Each push subscription's deliveries wait in the outbox in seq order, each row counting its
attempts and holding the time of its next one; nothing needs feeding, since publishing wrote the
rows in the transaction that accepted the mutation.
"""

from __future__ import annotations

from ..domain.mutations import Subscription
from ..services.ports import Delivery, MutationStore, PushQueue


class OutboxPushQueue(PushQueue):
    pipelines = True  # the rows behind a batch being marked are read by seq

    def __init__(self, store: MutationStore) -> None:
        self._store = store

    async def feed(self) -> int:
        return 0

    async def due(
        self, subscription: Subscription, now_ms: int, limit: int, after: int = 0
    ) -> list[Delivery]:
        return await self._store.due_pushes(subscription.id, now_ms, limit, after)

    async def delivered(self, subscription: Subscription, due: list[Delivery], at_ms: int) -> None:
        await self._store.delivered([d.seq for d in due], at_ms)

    async def failed(
        self,
        subscription: Subscription,
        due: list[Delivery],
        error: str,
        next_attempt_ms: int,
        dead_at_ms: int | None,
    ) -> None:
        await self._store.failed([d.seq for d in due], error, next_attempt_ms, dead_at_ms)

    async def requeue(self, seqs: list[int]) -> None:
        return None  # the outbox's replay made them due again: they are the queue

    async def forget(self, subscription_id: str) -> None:
        return None  # deleting the subscription deleted its waiting rows

    async def release(self, subscription_id: str | None = None) -> None:
        return None  # nothing is handed out: the rows wait in the outbox

    async def close(self) -> None:
        return None
