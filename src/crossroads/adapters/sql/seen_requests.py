"""The requests peer hubs signed that this hub accepted, in the store every hub process shares,
so that a request replayed to another process of the hub is refused as it is by the first.

Written in rounds (the Coalescer of coalesce.py): the requests that arrive while one round is
being written go together in the next, one transaction for all of them, and a lone request waits
for nothing. A first version
committed one durable transaction per request on the event loop (an fsync each on SQLite), which
held a hub to 84 cross-hub exchanges a second in `crossroads bench federation`; so these
transactions do not wait for the disk:

- SQLite: a database file of their own beside the store's (`STORE.seen-requests`), with
  `synchronous=NORMAL`. In WAL mode a commit is then visible to every process at once, and
  survives the crash of any process; only a power loss or an operating system crash can take the
  last commits back. In the store's own file a round waited for SQLite's one write lock while the
  audit writer held it through its fsync'd commits: 9 ms at the 90th percentile and 36 ms at the
  99th beside a busy writer, on the answering hub's path; in a file of its own it waits only for
  another process's round, which syncs nothing. The file holds nothing to back up (its rows are
  minutes old), so a backup of the store leaves it out.
- PostgreSQL: `synchronous_commit` off for these transactions alone: committed for every session
  at once, durable a fraction of a second later (a crash of the database server in between takes
  them back).

What that gives up, and why it is acceptable: a request captured on the wire (the hubs talk over
TLS) and replayed in the seconds after such a crash, and within its signature's five minutes,
would be accepted once more. The audit log, which the exchange writes durably, still names it.

A row lives until its request's signature expires (`expires_at`); expired rows are deleted at most
every PURGE_SECONDS, inside a round's transaction, so the table holds no more than the requests
of the last few minutes.
"""

from __future__ import annotations

import sqlite3

from ...services.ports import SeenRequests
from .coalesce import Coalescer
from .connect import begin_immediate, begin_immediate_async, sqlite_connect
from .database import Database, SQLiteDatabase

PURGE_SECONDS = 10
MAX_ROUND = 400  # keys a round writes at most (two variables each, well under SQLite's limit)


class _Claim:
    """A request's first use, which only one of the callers that asked in one round may take:
    the same request twice in a round is first once."""

    def __init__(self, first: bool) -> None:
        self._first = first

    def take(self) -> bool:
        first, self._first = self._first, False
        return first


class SqlSeenRequests(SeenRequests):
    def __init__(self, db: Database) -> None:
        self._db = db
        self._rounds = Coalescer(self._round, lambda: _Claim(False), max_keys=MAX_ROUND)
        self._expires: dict[str, int] = {}  # a waiting request's expiry, until its round takes it
        self._now = 0
        self._purged_at = 0
        self._lite_path = f"{db.path}.seen-requests" if isinstance(db, SQLiteDatabase) else None
        self._lite: sqlite3.Connection | None = None

    async def first_use(self, key: str, expires_at: int, now: int) -> bool:
        self._expires[key] = max(self._expires.get(key, 0), expires_at)
        self._now = max(self._now, now)
        return (await self._rounds.get(key)).take()

    async def _round(self, keys: list[str]) -> dict[str, _Claim]:
        rows = [(key, self._expires.pop(key)) for key in keys]
        purge = self._now - self._purged_at >= PURGE_SECONDS
        new = await self._record(rows, purge)
        if purge:
            self._purged_at = self._now
        return {key: _Claim(True) for key in new}

    async def _record(self, rows: list[tuple[str, int]], purge: bool) -> set[str]:
        """The keys of `rows` that were not recorded yet, now recorded."""
        values = ", ".join(["(?, ?)"] * len(rows))
        insert = (
            f"INSERT INTO seen_requests (request, expires_at) VALUES {values}"
            " ON CONFLICT (request) DO NOTHING RETURNING request"
        )
        params = [value for row in rows for value in row]
        if self._lite_path is not None:
            return await self._record_sqlite(self._lite_path, insert, params, purge)
        async with self._db.transaction() as tx:
            await tx.execute("SET LOCAL synchronous_commit TO OFF")
            if purge:
                await tx.execute("DELETE FROM seen_requests WHERE expires_at < ?", (self._now,))
            return {row[0] for row in await tx.fetchall(insert, params)}

    async def _record_sqlite(
        self, path: str, insert: str, params: list[str | int], purge: bool
    ) -> set[str]:
        if self._lite is None:
            self._lite = _open_side_file(path)
        conn = self._lite
        await begin_immediate_async(conn)
        try:
            if purge:
                conn.execute("DELETE FROM seen_requests WHERE expires_at < ?", (self._now,))
            new = {row[0] for row in conn.execute(insert, params).fetchall()}
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return new

    def close(self) -> None:
        if self._lite is not None:
            self._lite.close()
            self._lite = None


def _open_side_file(path: str) -> sqlite3.Connection:
    conn = sqlite_connect(path, busy_timeout_ms=0)
    conn.execute("PRAGMA synchronous=NORMAL")
    # Nothing else writes this file, and nothing checkpoints it: SQLite does, past 1,000 pages.
    conn.execute("PRAGMA wal_autocheckpoint=1000")
    begin_immediate(conn)
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS seen_requests"
            " (request TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)"
        )
        conn.execute(
            "CREATE INDEX IF NOT EXISTS seen_requests_by_expiry ON seen_requests (expires_at)"
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return conn
