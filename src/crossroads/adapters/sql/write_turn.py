"""The turn to write an SQLite file, which every writer of the hub's processes takes before SQLite's
own write lock.

SQLite tells nobody when its write lock is let go: a writer that finds it held can only try again
(`begin_immediate`). Under a flow of mutations the event loop's transactions (publications into
the outbox, deliveries marked, mailboxes acknowledged) and the audit writers of two hub processes
all wrote the one file, and the loop's writers polled `BEGIN IMMEDIATE` every 0.2 ms through the
other writers' fsync'd commits: a failed statement, an exception and a timer each try, 7 % of the
hub's CPU in `bench mutations` (docs/benchmarks.md, "Every writer takes the file's turn").

So each writer first takes an exclusive `flock` on a file beside the database
(`STORE.sqlite3.writers`): a writer whose turn it is not sleeps in the kernel, which wakes it when
the holder lets go, and drops the turn of a process that dies. `flock`, not `fcntl` record locks:
each `WriteTurn` opens the file itself, and flocks of two open files exclude each other even in one
process, so the audit writer's thread and the event loop take turns too. The turn only saves the
polling: SQLite's lock still decides, and a writer that does not take the turn (an older hub
version during a rolling upgrade, the `sqlite3` shell) is still waited for by `begin_immediate`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor


def turn_path(database_path: str) -> str:
    """The file whose flock is the turn to write `database_path`."""
    return f"{database_path}.writers"


class WriteTurn:
    """One writer's hold on the turn: `held()` in a thread, `held_async()` on an event loop.

    A `WriteTurn` is used by one writer at a time (the audit writer's thread, or the database's
    transactions under their asyncio lock): its open file is what holds the turn.
    """

    def __init__(self, database_path: str) -> None:
        self._fd = os.open(turn_path(database_path), os.O_RDWR | os.O_CREAT, 0o600)
        # The event loop waits for a held turn in this thread, made at the first wait (one is
        # enough: the loop's writers wait one at a time), on an open file of its own, so that a
        # wait given up on and still going never takes or lets go of the turn this one holds.
        self._waiter: ThreadPoolExecutor | None = None
        self._watch = os.open(turn_path(database_path), os.O_RDWR)
        self._waiting: Future[None] | None = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    @contextlib.asynccontextmanager
    async def held_async(self, deadline_seconds: float = 30.0) -> AsyncIterator[None]:
        """Hold the turn, waiting in a thread while another writer has it. Raises
        sqlite3.OperationalError ("database is locked", as `begin_immediate` does) when it was
        not had within `deadline_seconds`: a turn held that long is a fault to report."""
        await self._take(deadline_seconds)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    async def _take(self, deadline_seconds: float) -> None:
        give_up = time.monotonic() + deadline_seconds
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            left = give_up - time.monotonic()
            if left <= 0:
                raise sqlite3.OperationalError(
                    f"database is locked: another writer held the turn to write it for over "
                    f"{deadline_seconds:g} s"
                )
            if self._waiter is None:
                self._waiter = ThreadPoolExecutor(1, thread_name_prefix="sqlite-write-turn")
            # The thread waits for the turn to be let go, and lets it go again at once: held
            # while this task waits for the busy loop to run it, the turn would stop every other
            # writer meanwhile (the p99 of `bench mutations` doubled that way). The loop then
            # tries again; another writer may be faster, and it is waited for in turn.
            self._waiting = self._waiter.submit(_wait_for_release, self._watch)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.wrap_future(self._waiting), left)

    def close(self) -> None:
        """Let the files go; a second call does nothing (a store may be closed twice, and the
        numbers of closed files are soon another file's)."""
        if self._fd < 0:
            return
        os.close(self._fd)
        self._fd = -1
        if self._waiter is not None:
            # A thread still waiting would hold the process open: not waited for.
            self._waiter.shutdown(wait=False, cancel_futures=True)
        watch, self._watch = self._watch, -1
        if self._waiting is not None and not self._waiting.done():
            # Its file is closed once it is through, lest its number, given to another file
            # meanwhile, have that file's flock let go.
            self._waiting.add_done_callback(lambda _: os.close(watch))
        else:
            os.close(watch)


def _wait_for_release(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_EX)
    fcntl.flock(fd, fcntl.LOCK_UN)
