"""Audit records that could not be written when their answer was given, written once the store
is back.

An exchange caught in an outage of the store is answered `not_ready`, never success: the caller
is told nothing that the log does not hold, or will. Its record (outcome `not_ready`, with what
the exchange knew: service, subject's hash, authorization, providers asked) is kept here and
appended as soon as the store takes it, tried again with a growing pause. Nothing is dropped
silently: a record still unwritten when the hub stops is logged whole, at critical level, as
the evidence of the answer given. A record whose append failed after the server committed it
(the connection dropped before the answer came back) may be in the log twice: a duplicate is
visible, a missing record would not be.
"""

from __future__ import annotations

import asyncio
import logging

from ..domain.audit import AuditRecord
from .cancellation import honour_lost_cancellation
from .ports import AuditLog

log = logging.getLogger("crossroads.audit")

_PAUSES = (0.2, 0.5, 1.0, 2.0, 5.0)  # seconds between tries, the last repeated


class DeferredAudit:
    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit
        self._waiting: list[AuditRecord] = []
        self._writer: asyncio.Task[None] | None = None
        self.written = 0  # records appended late, for tests and metrics

    @property
    def waiting(self) -> int:
        """Records not yet in the log."""
        return len(self._waiting)

    def defer(self, record: AuditRecord) -> None:
        """Keep `record` and append it once the store takes it."""
        log.error(
            "the store is unreachable; the audit record of request %s waits to be written",
            record.request_id,
        )
        self._waiting.append(record)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_when_back())

    async def _write_when_back(self) -> None:
        tries = 0
        while self._waiting:
            honour_lost_cancellation()  # `close` cancels it, then waits for it
            await asyncio.sleep(_PAUSES[min(tries, len(_PAUSES) - 1)])
            if await self._try_once():
                tries = 0
            else:
                tries += 1

    async def _try_once(self) -> bool:
        batch = list(self._waiting)
        try:
            await self._audit.append_many(batch)
        except Exception:
            log.warning("%d deferred audit records still wait for the store", len(batch))
            return False
        del self._waiting[: len(batch)]
        self.written += len(batch)
        log.info("%d deferred audit records written", len(batch))
        return True

    async def close(self) -> None:
        """Try a last time; log every record still unwritten, whole, at critical level."""
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        if self._waiting and not await self._try_once():
            for record in self._waiting:
                log.critical(
                    "an audit record could not be written before the hub stopped: %s",
                    record.canonical().decode(),
                )
