"""A push worker asked to stop stops, even when the cancellation is lost on its way: a fetch
cancelled as its message arrives hands the message back instead of CancelledError (Python 3.11's
`wait_for`), and a dispatcher waiting for that worker would otherwise wait for ever, neither
feeding the stream nor handing subscriptions over (seen under `bench mutations --backend nats`)."""

from __future__ import annotations

import asyncio

import pytest

from crossroads.domain.mutations import Subscription
from crossroads.services.clock import FixedClock
from crossroads.services.ports import PushQueue
from crossroads.services.push import PushDispatcher

from ..fakes.mutations import MemoryMutationStore

pytestmark = pytest.mark.anyio


class LosingQueue(PushQueue):
    """A queue whose long poll, when cancelled, returns what it found instead of raising."""

    waits = True

    def __init__(self) -> None:
        self.polling = asyncio.Event()
        self.released = asyncio.Event()

    async def trouble(self) -> str | None:
        return None

    async def feed(self) -> int:
        return 0

    async def due(self, subscription, now_ms, limit, after=0):
        self.polling.set()
        return await asyncio.create_task(self._poll())

    @staticmethod
    async def _poll():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return []  # its message came as it was cancelled: the cancellation is lost

    async def delivered(self, subscription, due, at_ms) -> None: ...

    async def failed(self, subscription, due, error, next_attempt_ms, dead_at_ms) -> None: ...

    async def requeue(self, seqs) -> None: ...

    async def forget(self, subscription_id) -> None: ...

    async def release(self, subscription_id=None) -> None:
        self.released.set()

    async def close(self) -> None: ...


async def test_a_worker_whose_cancellation_is_lost_still_stops_and_its_rows_are_let_go():
    store = MemoryMutationStore()
    await store.add_subscription(
        Subscription("s1", "0411905847", "app", "person.address", "A1", "push", "https://f/h")
    )
    queue = LosingQueue()
    push = PushDispatcher(
        store,
        queue,
        None,
        None,
        None,
        FixedClock(0),
        max_attempts=3,
        retry_base_seconds=1,
        retry_max_seconds=1,
        batch=10,
    )
    stop, leading = asyncio.Event(), [True]
    running = asyncio.create_task(push.run(stop, lambda: leading[0], 0.01))
    try:
        await asyncio.wait_for(queue.polling.wait(), 2)
        leading[0] = False  # no longer this process's to deliver: its worker stops, rows let go
        await asyncio.wait_for(queue.released.wait(), 2)
    finally:
        stop.set()  # a worker that missed its cancellation still ends at its next turn
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
