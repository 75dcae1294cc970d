"""The push queue's port: where a push subscription's deliveries wait for its webhook (the
outbox itself, or NATS JetStream fed from it). Apart from the mutation store because a queue is
chosen per deployment while the store is not."""

from __future__ import annotations

import abc

from ...domain.mutations import Subscription
from .mutations import Delivery


class PushQueue(abc.ABC):
    """Where a push subscription's deliveries wait for its webhook: the outbox itself, or a
    stream the outbox feeds. The dispatcher (services/push.py) takes the oldest due ones, in
    order, and says how each attempt went; the queue keeps the attempts and the order."""

    waits: bool = False  # True when `due` itself waits a little for a first message (a long poll)
    # True when `due(after=…)` can hand out the deliveries behind a batch still being settled
    # (audited and marked delivered): the dispatcher then pushes the next batch meanwhile.
    pipelines: bool = False
    feed_batch: int = 1  # most a `feed` brings at once: one that brought fewer left nothing behind
    # Counted by a queue that keeps a copy of the outbox (a stream), for /metrics: the times its
    # relay found the copy lost or recreated, and the deliveries it sent again from the outbox.
    stream_losses: int = 0
    reconciled: int = 0

    async def trouble(self) -> str | None:
        """What keeps the queue from delivering, in a sentence for /ready (the stream it needs is
        missing, its server unreachable), or None. Answers within a few seconds."""
        return None

    @abc.abstractmethod
    async def feed(self) -> int:
        """Bring what the outbox accepted since the last call into the queue; how many. The
        caller feeds again at once only after a full `feed_batch`, otherwise after its interval."""

    @abc.abstractmethod
    async def due(
        self, subscription: Subscription, now_ms: int, limit: int, after: int = 0
    ) -> list[Delivery]:
        """The subscription's oldest waiting deliveries with a seq above `after`, up to `limit`,
        when the oldest one's next attempt is due; otherwise none. `attempts` counts the failed
        attempts before this one. Only a queue that `pipelines` is asked with `after` > 0: it
        names the last delivery of a batch the webhook accepted whose marks are not yet written."""

    @abc.abstractmethod
    async def delivered(self, subscription: Subscription, due: list[Delivery], at_ms: int) -> None:
        """The webhook accepted `due`, all of it, in one answer."""

    @abc.abstractmethod
    async def failed(
        self,
        subscription: Subscription,
        due: list[Delivery],
        error: str,
        next_attempt_ms: int,
        dead_at_ms: int | None,
    ) -> None:
        """One more failed attempt of `due`: wait until `next_attempt_ms`, or set them aside as
        dead letters (in the outbox, where the operator sees them)."""

    @abc.abstractmethod
    async def requeue(self, seqs: list[int]) -> None:
        """Dead letters the outbox has just put back (replay): queue them again, due now."""

    @abc.abstractmethod
    async def forget(self, subscription_id: str) -> None:
        """The subscription is gone: drop what the queue holds for it."""

    @abc.abstractmethod
    async def release(self, subscription_id: str | None = None) -> None:
        """This process stops delivering one subscription (another process delivers it now), or
        all of them; what it was handed goes back."""

    @abc.abstractmethod
    async def close(self) -> None: ...
