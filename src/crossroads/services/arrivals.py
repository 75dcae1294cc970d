"""Arrivals: a reader of a pull mailbox learns that a message came in at once, instead of at its
next poll.

The rights engine reads its mailbox every `CROSSROADS_RIGHTS_POLL_SECONDS`; a change that
waited for the next round would take up to that long to be decided. Publishing rings the bell of
every pull subscriber's application it delivered to, once the deliveries are committed, and the
engine's loop wakes. In this process directly; in the other processes that share the store
through the store's `ArrivalBells` (adapters/sql/arrival_bells.py: NOTIFY on PostgreSQL, local
datagrams on SQLite), which a reader listens to while it waits. The mailbox, in the store, stays
the only source of messages: a bell carries none, and one lost costs a poll.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from .ports import ArrivalBells


class Arrivals:
    def __init__(self, elsewhere: ArrivalBells | None = None) -> None:
        """`elsewhere`: the bells of the other processes sharing the store."""
        self._bells: dict[tuple[str, str], asyncio.Event] = {}
        self._elsewhere = elsewhere

    def ring(self, applications: Iterable[tuple[str, str]]) -> None:
        """Messages were committed for these (institution, application) mailboxes in this
        process: wake their readers here and in the other processes."""
        rung = list(applications)
        self.heard(rung)
        if self._elsewhere is not None and rung:
            self._elsewhere.ring(rung)

    def heard(self, applications: Iterable[tuple[str, str]]) -> None:
        """Messages were committed for these mailboxes (here or in another process)."""
        for application in applications:
            bell = self._bells.get(application)
            if bell is not None:
                bell.set()

    async def wait(
        self, institution: str, application: str, stop: asyncio.Event, seconds: float
    ) -> bool:
        """Wait until a message arrives for the application's mailbox, `stop` is set, or `seconds`
        pass; True when a message arrived. One that arrived since the last wait returns at once:
        a ring is never lost between two reads of the mailbox."""
        bell = self._bells.setdefault((institution, application), asyncio.Event())
        if not bell.is_set():
            stopping = asyncio.ensure_future(stop.wait())
            ringing = asyncio.ensure_future(bell.wait())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.wait((stopping, ringing), return_when=asyncio.FIRST_COMPLETED), seconds
                )
            for waiting in (stopping, ringing):
                waiting.cancel()
        rang = bell.is_set()
        bell.clear()
        return rang

    async def listen(self, institution: str, application: str) -> None:
        """Hear the bells of this mailbox, this process's and the others', from now on (a reader
        calls it before its first read of the mailbox, so that nothing committed after that read
        goes unheard)."""
        self._bells.setdefault((institution, application), asyncio.Event())
        if self._elsewhere is not None:
            await self._elsewhere.listen(self.heard)

    async def quiet(self) -> None:
        if self._elsewhere is not None:
            await self._elsewhere.quiet()
