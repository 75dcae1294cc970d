"""Where the browser sessions that are signed in are recorded (services/session_records.py):
adapters/sql/browser_sessions.py, in the store every hub process shares."""

from __future__ import annotations

import abc


class BrowserSessionStore(abc.ABC):
    @abc.abstractmethod
    async def open(
        self, key: str, audience: str, identity: str, person: str, ends_at: int, now: int
    ) -> None:
        """Record the session `key` of `person` until `ends_at` (Unix seconds), and delete the
        rows of the sessions that ended before `now` (at most once a minute in a process): the
        table holds no more than the sessions of the last lifetime."""

    @abc.abstractmethod
    async def find(self, key: str) -> tuple[str, str, int] | None:
        """The audience, identity and end of the session `key`; None when none is recorded (it
        signed out, or its row was deleted after its end). One read by the primary key."""

    @abc.abstractmethod
    async def end(self, key: str) -> bool:
        """Delete the session `key`; False when there was none."""

    @abc.abstractmethod
    async def end_person(self, person: str) -> int:
        """Delete every session recorded for `person` (the digest `open` was given); how many
        there were, ended or not yet purged alike. One delete by an index."""

    @abc.abstractmethod
    async def count_person(self, person: str, now: int) -> int:
        """How many sessions recorded for `person` have not reached their end at `now`."""
