"""Whether push delivery keeps up, as the hub's health and /metrics say it.

Each push subscription's next delivery (its oldest neither delivered nor dead) is what its push
must deliver next. One that was never tried, long after it was published, means the relay or the
push workers are not delivering (stopped, stalled, or far behind), whatever the subscriber does;
one that was tried and waits out its back-off is the subscriber's own trouble (a webhook that
fails), which dead letters and its institution's pages report, and which must not make the hub
look unwell to its operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson

from .ports import Delivery, MutationStore


@dataclass(frozen=True)
class PushLag:
    """`behind`: push subscriptions whose next delivery waits untried past the limit;
    `oldest_seconds`: the age of the oldest untried next delivery (0.0 when none waits)."""

    behind: int
    oldest_seconds: float


async def push_lag(store: MutationStore, now_ms: int, limit_seconds: float) -> PushLag:
    ages = [
        max(0.0, (now_ms - _published_ms(head)) / 1000)
        for head in await store.push_heads()
        if head.attempts == 0
    ]
    return PushLag(sum(1 for age in ages if age > limit_seconds), max(ages, default=0.0))


def _published_ms(delivery: Delivery) -> int:
    """When the delivery's mutation was published: its CloudEvent's `time` (services/mutations.py
    writes it, always with milliseconds and `Z`)."""
    published = datetime.fromisoformat(orjson.loads(delivery.message)["time"])
    return int(published.timestamp() * 1000)
