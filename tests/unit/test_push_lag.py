"""How far behind push delivery is: each push subscription's next delivery, aged from its
CloudEvent's `time` when it was never tried; tried ones (a failing webhook backing off) and
messages whose time does not read are left out, never failing the health check."""

from __future__ import annotations

from datetime import date

import pytest

from crossroads.domain.mutations import Mutation, Subscription
from crossroads.services.push_lag import PushLag, push_lag

from ..fakes.mutations import MemoryMutationStore

pytestmark = pytest.mark.anyio
T0 = 1_800_000_000_000  # 2027-01-15T08:00:00Z
FUND = "0411905847"


def mutation(mutation_id: str) -> Mutation:
    return Mutation(
        mutation_id, "person.address", "1", "0403170701", "79122244457", b"k" * 16,
        date(2027, 1, 15), {"city": "Namur"}, T0,
    )  # fmt: skip


async def store_with(messages: dict[str, bytes]) -> MemoryMutationStore:
    store = MemoryMutationStore()
    for sub in messages:
        await store.add_subscription(
            Subscription(sub, FUND, sub, "person.address", "A1", "push", f"https://f/{sub}")
        )
    for n, (sub, message) in enumerate(messages.items()):
        await store.publish(mutation(f"m{n}"), b"d", [(sub, message)])
    return store


async def test_untried_next_deliveries_are_aged_and_counted_past_the_limit():
    store = await store_with(
        {
            "late": b'{"time": "2027-01-15T08:00:00.000000Z"}',
            "recent": b'{"time": "2027-01-15T08:09:00.000000Z"}',
        }
    )
    assert await push_lag(store, T0 + 600_000, 300) == PushLag(1, 600.0)
    assert await push_lag(store, T0 + 600_000, 900) == PushLag(0, 600.0)


async def test_a_tried_delivery_and_an_unreadable_time_are_not_aged():
    store = await store_with(
        {
            "failing": b'{"time": "2027-01-15T08:00:00.000000Z"}',
            "odd": b'{"no": "time"}',
            "garbled": b"not json",
        }
    )
    [failing] = await store.due_pushes("failing", T0, 10)
    await store.failed([failing.seq], "provider_error: 503", T0 + 10_000, None)
    assert await push_lag(store, T0 + 600_000, 300) == PushLag(0, 0.0)
