"""Arrivals: a reader of a pull mailbox in this process learns that a message came in at once,
instead of at its next poll.

The rights engine reads its mailbox every `CROSSROADS_RIGHTS_POLL_SECONDS`; a change that
waited for the next round would take up to that long to be decided. Publishing rings the bell of
every pull subscriber's application it delivered to, once the deliveries are committed, and the
engine's loop wakes. Only within one process: a mutation published in another hub process is
read at the next poll, as before (the mailbox, in the store, stays the only source of messages;
a bell carries none).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable


class Arrivals:
    def __init__(self) -> None:
        self._bells: dict[tuple[str, str], asyncio.Event] = {}

    def ring(self, applications: Iterable[tuple[str, str]]) -> None:
        """Messages were committed for these (institution, application) mailboxes."""
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
