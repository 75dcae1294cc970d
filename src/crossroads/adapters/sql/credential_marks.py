"""Marks that every hub process reads before trusting the application credentials it remembers:
the store's revocation signal.

Every authenticated request must see a disabled application's tokens refused at once, in every
process. Reading the application's epoch through the store costs a read a request: 30-45 µs on
SQLite (a profile of `bench exchange` put it at the whole of the exchange's regression) and a
round trip on PostgreSQL (about 9 % of the exchange's throughput in the same benchmark). A mark
costs a few µs: a process keeps the epochs it read while the mark is unchanged, and reads the
store again when it changes.

- `FileMark` (SQLite): a counter in a small file beside the database; SQLite stores live on one
  machine, so every process sees it. Whoever changes an application or institution bumps it after
  its transaction commits, before its call returns.
- `NotifyMark` (PostgreSQL): a connection that LISTENs on `crossroads_credentials`; the change
  sends its NOTIFY inside its own transaction, so PostgreSQL delivers it at the commit, to every
  process, and never for a change that rolled back. Delivery is asynchronous (in a measurement,
  2-4 % of the changes returned before another process had the notification), so the change's
  call waits for every listener's acknowledgement and cuts the connection of one that does not
  answer in time. A notification the server has sent and this process not yet read makes the mark
  unreadable (a zero-timeout poll of the socket), and so does a lost connection: `read()` then
  answers None and the caller reads the store, never a stale epoch.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import secrets
import select
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import psycopg

from .database import Database
from .pg_listener import listen_for_ever

CHANNEL = "crossroads_credentials"
ACK_CHANNEL = "crossroads_credentials_ack"
LISTENER_NAME = "crossroads-credential-listener"
_log = logging.getLogger(__name__)


class FileMark:
    """A counter in a small file beside the store, bumped under an exclusive lock."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def read(self) -> bytes | None:
        return os.pread(self._fd, 20, 0)

    @asynccontextmanager
    async def change(self) -> AsyncIterator[Callable[[Any], Awaitable[None]]]:
        """Around a transaction that may revoke credentials: the mark is bumped after it commits."""

        async def within(tx: Any) -> None:
            """Nothing to do inside the transaction for a file."""

        yield within
        self._bump()

    def _bump(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            current = os.pread(self._fd, 20, 0)
            following = (int(current) if current.strip() else 0) + 1
            os.pwrite(self._fd, b"%020d" % following, 0)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    async def close(self) -> None:
        os.close(self._fd)


class NotifyMark:
    """A generation counter advanced by every notification on `CHANNEL` (and by every reconnection,
    since notifications sent while not listening are lost).

    A change waits, after its commit, until every process that listened at the commit has
    acknowledged it (each acknowledges on `ACK_CHANNEL` once its counter has moved); a listener
    that has not within `ack_seconds` is disconnected by the changer, which leaves its process
    reading every epoch from the store until it listens again. So when the change's call returns,
    no process in the deployment still vouches for an epoch the change revoked."""

    def __init__(self, dsn: str, db: Database, *, ack_seconds: float = 1.0) -> None:
        self._dsn = dsn
        self._db = db
        self._ack_seconds = ack_seconds
        self._generation = 0
        self._conn: psycopg.AsyncConnection | None = None
        self._acks: dict[str, set[int]] = {}  # ticket -> listeners' backend pids that acknowledged
        self._acked = asyncio.Event()
        self._listening = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._listen(), name="credential-mark")

    def read(self) -> bytes | None:
        conn = self._conn
        if conn is None or conn.closed:
            return None
        try:
            waiting, _, _ = select.select([conn.fileno()], [], [], 0)
        except (OSError, ValueError, psycopg.Error):
            return None
        return None if waiting else self._generation.to_bytes(8, "big")

    @asynccontextmanager
    async def change(self) -> AsyncIterator[Callable[[Any], Awaitable[None]]]:
        """Around a transaction that may revoke credentials: `within(tx)` sends the NOTIFY inside
        it and notes who listens; after the commit, wait for their acknowledgements."""
        # A process that has just opened the store (a CLI command) would otherwise name its own
        # listener before it listens, and wait for an acknowledgement that cannot come.
        # Not listening in time: the others are still told, and this process reads the store.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), self._ack_seconds)
        ticket = secrets.token_hex(8)
        self._acks[ticket] = set()
        listeners: set[int] = set()

        async def within(tx: Any) -> None:
            await tx.execute(f"SELECT pg_notify('{CHANNEL}', ?)", (ticket,))
            rows = await tx.fetchall(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = ?",
                (LISTENER_NAME,),
            )
            listeners.update(row[0] for row in rows)

        try:
            yield within
            await self._await_acknowledgements(ticket, listeners)
        finally:
            del self._acks[ticket]

    async def _await_acknowledgements(self, ticket: str, listeners: set[int]) -> None:
        deadline = asyncio.get_running_loop().time() + self._ack_seconds
        while not listeners <= self._acks[ticket]:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            self._acked.clear()
            try:
                await asyncio.wait_for(self._acked.wait(), remaining)
            except TimeoutError:
                break
        silent = sorted(listeners - self._acks[ticket])
        if silent:
            _log.warning(
                "credential listeners %s did not acknowledge a change within %.1f s;"
                " disconnecting them",
                silent,
                self._ack_seconds,
            )
            # Their processes read every epoch from the store until they listen again.
            for pid in silent:
                await self._db.fetchall("SELECT pg_terminate_backend(?, 1000)", (pid,))

    async def _listen(self) -> None:
        async def serve(conn: psycopg.AsyncConnection) -> None:
            self._generation += 1  # whatever was sent while we were not listening is lost
            self._conn = conn
            self._listening.set()
            while True:
                heard = [n async for n in conn.notifies(stop_after=1)]
                changes = [n.payload for n in heard if n.channel == CHANNEL]
                if changes:
                    self._generation += 1
                for n in heard:
                    if n.channel == ACK_CHANNEL and n.payload in self._acks:
                        self._acks[n.payload].add(n.pid)
                        self._acked.set()
                for ticket in changes:  # the counter has moved: say so
                    await conn.execute(f"SELECT pg_notify('{ACK_CHANNEL}', %s)", (ticket,))

        def lost() -> None:
            self._conn = None
            self._listening.clear()
            self._generation += 1

        await listen_for_ever(
            self._dsn,
            application_name=LISTENER_NAME,
            channels=(CHANNEL, ACK_CHANNEL),
            serve=serve,
            what="credential changes",
            meanwhile="reading epochs per request",
            on_lost=lost,
        )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


CredentialMark = FileMark | NotifyMark
