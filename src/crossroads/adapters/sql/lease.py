"""Who is the audit sequencer: a lease held by one hub process per store.

PostgreSQL: a session-level advisory lock on a connection of its own; the server releases it
when that session ends, which it does when the process dies or its connection is lost.
SQLite: an exclusive `flock` on a file beside the database; the kernel releases it when the
process dies. In both, the lease only chooses who works: the store still refuses a sequencing step
that does not follow the tree it holds, so a process that lost the lease without noticing cannot
fork the log.
"""

from __future__ import annotations

import fcntl
import logging
import os
from typing import Any

from ...services.ports import Lease
from .outage import connect_options, watchdog

log = logging.getLogger("crossroads.audit")
_SECONDS = 5.0  # to connect, and for each statement of the lease's session


class PostgresLease(Lease):
    def __init__(self, dsn: str, key: int) -> None:
        self._dsn = dsn
        self._key = key
        self._conn: Any = None
        self._held = False

    async def try_acquire(self) -> bool:
        import psycopg

        try:
            if self._conn is None or self._conn.closed:
                self._held = False
                self._conn = await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True, **connect_options(_SECONDS)
                )
            with watchdog(self._conn, _SECONDS):  # a silent server ends the lease, not the loop
                if self._held:
                    # The lock lives as long as this session does.
                    await self._conn.execute("SELECT 1")
                    return True
                cur = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,))
                row = await cur.fetchone()
            self._held = bool(row and row[0])
            return self._held
        except psycopg.OperationalError:
            # The session is gone, and the lock with it: another process may hold it by now.
            await self._drop()
            return False

    async def release(self) -> None:
        await self._drop()

    async def _drop(self) -> None:
        self._held = False
        if self._conn is not None and not self._conn.closed:
            await self._conn.close()
        self._conn = None


class FileLease(Lease):
    def __init__(self, path: str) -> None:
        self._path = path
        self._fd: int | None = None

    async def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
