"""Which push subscriptions this hub process delivers, so that several processes share the work.

The push subscriptions, in the order of their ids, are dealt round-robin into `count` partitions
(every process reads the same list, so they agree). A process delivers a partition while it
holds that partition's lease (a PostgreSQL advisory lock or a file lock, released when the
process dies). A process holding none takes the first free one at once; one that already holds
some tries for another only every `patience` rounds per partition held, so that processes
starting together end up with one each, and a partition whose holder died is taken over by a
survivor within a few rounds. Delivery stays in order per subscriber: a subscription has one
sender at a time, the lease's holder (at least once across a handover, as before).
"""

from __future__ import annotations

import asyncio
import logging
import random

from .clock import sleep_unless
from .ports import Lease

log = logging.getLogger("crossroads.mutations")


class PushPartitions:
    def __init__(self, leases: list[Lease], patience: int = 3) -> None:
        self._leases = leases
        self._patience = patience
        self.held: set[int] = set()
        self._round = 0

    @property
    def count(self) -> int:
        return len(self._leases)

    def mine(self, subscription_ids: list[str]) -> set[str]:
        """The subscriptions among these (all push subscriptions) that this process delivers."""
        ordered = sorted(subscription_ids)
        return {s for index, s in enumerate(ordered) if index % self.count in self.held}

    async def step(self) -> None:
        self._round += 1
        for index in sorted(self.held):  # still ours? (a PostgreSQL session can be lost)
            if not await self._check(index):
                self.held.discard(index)
                log.warning("push partition %d lost", index)
        if self.held and self._round % (self._patience * len(self.held)):
            return
        free = [i for i in range(self.count) if i not in self.held]
        random.shuffle(free)
        for index in free:
            if await self._check(index):
                self.held.add(index)
                log.info("push partition %d taken", index)
                return  # one at a time: leave the others to processes that hold fewer

    async def _check(self, index: int) -> bool:
        try:
            return await self._leases[index].try_acquire()
        except Exception:
            log.exception("push partition %d's lease could not be checked", index)
            return False

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        try:
            while not stop.is_set():
                await self.step()
                await sleep_unless(stop, interval)
        finally:
            await self.release()

    async def release(self) -> None:
        for index in sorted(self.held):
            await self._leases[index].release()
        self.held.clear()
