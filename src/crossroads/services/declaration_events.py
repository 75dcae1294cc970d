"""Publishing what the declarations service stored: its outbox of mutations, fed to the hub's
mutation service in batches, as the institution configured as the declarations' source."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Callable

from ..domain.errors import Refusal
from ..domain.callers import Caller
from .clock import sleep_unless
from .mutations import MutationService
from .ports import DeclarationStore

log = logging.getLogger("crossroads.declarations")


class DeclarationPublisher:
    def __init__(self, store: DeclarationStore, mutations: MutationService, source: str | None, batch: int = 500) -> None:
        self._store = store
        self._mutations = mutations
        self._source = source
        self._batch = batch
        self.failures = 0  # refused events and failed rounds, for the metrics

    async def publish_pending(self) -> int:
        """Publish up to a batch of pending events; return how many are done (accepted, or
        duplicates of an earlier publication). A refused event stays pending and is logged:
        it means the catalogue and the service disagree, which the operator must fix."""
        if self._source is None:
            return 0
        pending = await self._store.pending_events(self._batch)
        by_type = defaultdict(list)
        for event in pending:
            by_type[event.mutation_type].append(event)
        caller = Caller(self._source, "declarations")
        done: list[int] = []
        for mutation_type, events in by_type.items():
            raws = [{"id": e.mutation_id, "subject": e.subject, "effective_date": e.effective_date, "payload": e.payload}
                    for e in events]
            try:
                outcomes = await self._mutations.publish_many(caller, mutation_type, raws)
            except Refusal as refusal:
                self.failures += 1
                log.error("declarations: cannot publish %d %s event(s): %s %s", len(events), mutation_type,
                          refusal.code, refusal.message)
                continue
            for event, outcome in zip(events, outcomes):
                if isinstance(outcome, Refusal):
                    self.failures += 1
                    log.error("declarations: event %s refused: %s %s", event.mutation_id, outcome.code, outcome.message)
                else:
                    done.append(event.seq)
        await self._store.mark_published(done)
        return len(done)

    async def run(self, stop: asyncio.Event, leading: Callable[[], bool], interval: float) -> None:
        if self._source is None:
            log.info("declarations: CROSSROADS_DECLARATIONS_SOURCE is not set; declared mutations are kept, not published")
            return
        while not stop.is_set():
            published = 0
            if leading():
                try:
                    published = await self.publish_pending()
                except Exception:  # the store or the queue is down: log, and try again next round
                    self.failures += 1
                    log.exception("declarations: publishing failed; will retry")
            if published < self._batch:
                await sleep_unless(stop, interval)
