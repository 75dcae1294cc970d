"""Whether push delivery moves, as the hub's health and /metrics say it.

Each push subscription's next delivery (its oldest neither delivered nor dead) is what its push
must deliver next. One that stays next, never tried, for a long time means the relay or the push
workers are not delivering (stopped, or stalled), whatever the subscriber does. Left out, since
they are the subscriber's own trouble, which its dead letters and its institution's pages report
and which must not make the hub look unwell: a next delivery that was tried and waits out its
back-off (a webhook that fails), and a queue that moves however slowly (a webhook that accepts
slowly: each batch it takes makes another delivery next). A hub process sees how long a
subscription's next delivery has stood still by reading the heads again and again (whenever
/ready or /metrics asks): one seen for the first time has stood still from then.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ports import MutationStore


@dataclass(frozen=True)
class PushLag:
    """`behind`: push subscriptions whose next delivery has stood still, never tried, past the
    limit; `stalled_seconds`: the longest any such next delivery has (0.0 when none);
    `unread`: why the heads could not be read this time (the figures are then the last read)."""

    behind: int
    stalled_seconds: float
    unread: str | None = None


class PushProgress:
    def __init__(self, store: MutationStore, limit_seconds: float) -> None:
        self._store = store
        self._limit_seconds = limit_seconds
        # Per subscription: its untried next delivery's seq, and when it was first seen next.
        self._since: dict[str, tuple[int, int]] = {}

    async def read(self, now_ms: int) -> PushLag:
        since: dict[str, tuple[int, int]] = {}
        for head in await self._store.push_heads():
            if head.attempts:
                continue
            seen = self._since.get(head.subscription)
            same = seen is not None and seen[0] == head.seq
            since[head.subscription] = seen if same and seen is not None else (head.seq, now_ms)
        self._since = since
        stood = [max(0.0, (now_ms - at) / 1000) for _, at in since.values()]
        return PushLag(sum(1 for s in stood if s > self._limit_seconds), max(stood, default=0.0))
