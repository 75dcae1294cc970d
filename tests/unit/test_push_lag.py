"""How long each push subscription's next delivery has stood still, never tried, as the hub's
health reads it again and again: a queue that moves (however slowly) and a delivery that was tried
(a failing webhook backing off) are not the hub's trouble and never count."""

from __future__ import annotations

from datetime import date

import pytest

from crossroads.domain.mutations import Mutation, Subscription
from crossroads.services.push_lag import PushLag, PushProgress

from ..fakes.mutations import MemoryMutationStore

pytestmark = pytest.mark.anyio
T0 = 1_800_000_000_000
FUND = "0411905847"


async def queued(subscriptions: list[str], mutations: int) -> MemoryMutationStore:
    store = MemoryMutationStore()
    for sub in subscriptions:
        await store.add_subscription(
            Subscription(sub, FUND, sub, "person.address", "A1", "push", f"https://f/{sub}")
        )
    for n in range(mutations):
        mutation = Mutation(
            f"m{n}", "person.address", "1", "0403170701", "79122244457", b"k" * 16,
            date(2027, 1, 15), {"n": n}, T0,
        )  # fmt: skip
        await store.publish(mutation, b"d", [(sub, b"{}") for sub in subscriptions])
    return store


async def test_a_next_delivery_that_stays_untried_counts_past_the_limit():
    store = await queued(["stuck"], 3)
    progress = PushProgress(store, 300)
    assert await progress.read(T0) == PushLag(0, 0.0)  # first seen now, however old
    assert await progress.read(T0 + 300_000) == PushLag(0, 300.0)
    assert await progress.read(T0 + 301_000) == PushLag(1, 301.0)


async def test_a_queue_that_moves_slowly_and_a_failing_webhook_do_not_count():
    store = await queued(["slow", "failing"], 3)
    progress = PushProgress(store, 300)
    await progress.read(T0)
    for n in range(1, 3):  # each batch the slow webhook takes makes another delivery next
        [next_one] = await store.due_pushes("slow", T0, 1)
        await store.delivered([next_one.seq], T0 + n * 200_000)
        await progress.read(T0 + n * 200_000)
    [failing] = await store.due_pushes("failing", T0, 1)
    await store.failed([failing.seq], "provider_error: 503", T0 + 900_000, None)
    assert await progress.read(T0 + 400_000) == PushLag(0, 0.0)
    await store.replay([failing.seq])  # set going again: untried, first seen now
    # ... while the slow webhook has taken nothing for 100 s: its next delivery stood that long.
    assert await progress.read(T0 + 500_000) == PushLag(0, 100.0)
