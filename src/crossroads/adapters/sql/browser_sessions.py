"""The browser sessions that are signed in, in SQL (SQLite and PostgreSQL alike): one row each,
read by its primary key on every request that uses the session, deleted when it signs out, or
with every other session of its person when an operator ends them (by the index on `person`,
migration 0031); the rows of ended sessions are deleted at sign-in (by the index on `ends_at`),
at most every minute in each process."""

from __future__ import annotations

from ...services.ports import BrowserSessionStore
from .database import Database

PURGE_SECONDS = 60  # a process deletes ended rows at most this often


class SqlBrowserSessions(BrowserSessionStore):
    def __init__(self, db: Database) -> None:
        self._db = db
        self._purged_at: int | None = None

    async def open(
        self, key: str, audience: str, identity: str, person: str, ends_at: int, now: int
    ) -> None:
        # The purge in a statement of its own and at most every PURGE_SECONDS: sign-ins at once
        # do not queue behind each other's deletes, nor hold their locks to the insert's commit.
        if self._purged_at is None or now - self._purged_at >= PURGE_SECONDS:
            self._purged_at = now
            async with self._db.transaction() as tx:
                await tx.execute("DELETE FROM browser_sessions WHERE ends_at < ?", (now,))
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO browser_sessions (id, audience, identity, person, ends_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (key, audience, identity, person, ends_at),
            )

    async def find(self, key: str) -> tuple[str, str, int] | None:
        row = await self._db.fetchone(
            "SELECT audience, identity, ends_at FROM browser_sessions WHERE id = ?", (key,)
        )
        return None if row is None else (row[0], row[1], int(row[2]))

    async def end(self, key: str) -> bool:
        async with self._db.transaction() as tx:
            changed = await tx.execute("DELETE FROM browser_sessions WHERE id = ?", (key,))
        return changed == 1

    async def end_person(self, person: str) -> int:
        async with self._db.transaction() as tx:
            ended = await tx.execute("DELETE FROM browser_sessions WHERE person = ?", (person,))
        return int(ended)

    async def count_person(self, person: str, now: int) -> int:
        row = await self._db.fetchone(
            "SELECT COUNT(*) FROM browser_sessions WHERE person = ? AND ends_at > ?", (person, now)
        )
        return 0 if row is None else int(row[0])
