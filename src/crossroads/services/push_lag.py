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
    published = [_published_ms(head) for head in await store.push_heads() if head.attempts == 0]
    ages = [max(0.0, (now_ms - at) / 1000) for at in published if at is not None]
    return PushLag(sum(1 for age in ages if age > limit_seconds), max(ages, default=0.0))


def _published_ms(delivery: Delivery) -> int | None:
    """When the delivery's mutation was published: its CloudEvent's `time` (services/mutations.py
    writes it in every message); None for a message without one that reads, which is not aged
    rather than failing the health check that asks."""
    try:
        published = datetime.fromisoformat(orjson.loads(delivery.message)["time"])
        return int(published.timestamp() * 1000)
    except (ValueError, KeyError, TypeError):  # orjson's JSONDecodeError is a ValueError
        return None
