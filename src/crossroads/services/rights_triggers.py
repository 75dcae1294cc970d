"""Re-evaluation on mutations: the rights engine reads its mailbox like any subscriber.

The engine's application subscribes (pull) to the changes that can start or end a right — a
benefit that starts or ends, a birth, a job, a move — under its authorizations; each batch of
messages is turned into the persons concerned, each re-evaluated once, and then acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import orjson

from ..domain.errors import Refusal
from .arrivals import Arrivals
from .clock import sleep_unless
from .mutations import MutationService
from .ports import StoreUnavailable
from .rights_engine import RightsEngine

log = logging.getLogger("crossroads.rights")
BATCH = 500


class RightsTriggers:
    def __init__(
        self, engine: RightsEngine, mutations: MutationService, arrivals: Arrivals | None = None
    ) -> None:
        """`arrivals`: rung when a message reaches the engine's mailbox, in this process or
        another sharing the store, so that it is read at once rather than at the next poll
        (services/arrivals.py)."""
        self._engine = engine
        self._mutations = mutations
        self._arrivals = arrivals
        self.failures = 0

    async def run(self, stop: asyncio.Event, leading: Callable[[], bool], interval: float) -> None:
        """Drain the mailbox while this process leads (one reader: no person is re-evaluated
        twice at once by two processes), until `stop`: every `interval` seconds, and as soon as
        a message arrives through any process sharing the store."""
        caller = self._engine.reader.caller
        mailbox = (
            None
            if self._arrivals is None or caller.institution is None or caller.application is None
            else (caller.institution, caller.application)
        )
        if mailbox is None or self._arrivals is None:
            await self._loop(stop, leading, interval, None)
            return
        await self._arrivals.listen(*mailbox)
        try:
            await self._loop(stop, leading, interval, mailbox)
        finally:
            await self._arrivals.quiet()

    async def _loop(
        self,
        stop: asyncio.Event,
        leading: Callable[[], bool],
        interval: float,
        mailbox: tuple[str, str] | None,
    ) -> None:
        while not stop.is_set():
            persons = 0
            if leading():
                try:
                    persons = await self.drain()
                except Exception:  # the store is down: log, and try again next round
                    self.failures += 1
                    log.exception("rights: reading the mailbox failed; will retry")
            if persons > 0:
                continue
            if self._arrivals is None or mailbox is None:
                await sleep_unless(stop, interval)
            else:
                await self._arrivals.wait(*mailbox, stop, interval)

    async def drain(self, limit: int = BATCH) -> int:
        """Re-evaluate the persons of up to `limit` waiting messages; the number of persons.

        A person the engine cannot re-evaluate (a refusal: a fact's provider is down, the engine
        no longer holds them) is logged and the message acknowledged all the same, so that one
        person never stops the others; the next change about them re-evaluates them again. An
        outage of the store acknowledges nothing: the batch is read again."""
        caller = self._engine.reader.caller
        waiting = await self._mutations.mailbox(caller, 0, limit)
        if not waiting:
            return 0
        subjects = dict.fromkeys(orjson.loads(d.message)["subject"] for d in waiting)
        for subject in subjects:
            try:
                await self._engine.evaluate(subject)
            except StoreUnavailable:
                raise  # nothing acknowledged: the batch is read again once the store is back
            except Refusal as refusal:
                log.warning("rights: a person was not re-evaluated: %s", refusal.code)
        await self._mutations.acknowledge(caller, [d.seq for d in waiting])
        return len(subjects)
