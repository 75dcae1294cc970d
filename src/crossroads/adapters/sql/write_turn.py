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
process, so two writers of one file in one process (two databases opened on it, a thread's
transaction and the event loop's) take turns too. A writer waits at most
`DEADLINE_SECONDS` for its turn, then fails as SQLite's busy writer does ("database is locked"):
a turn held that long (a hub process stopped in its transaction) is a fault to report, not to
wait out. The turn only saves the polling: SQLite's lock still decides, and a writer that does
not take the turn (an older hub version during a rolling upgrade, the `sqlite3` shell) is still
waited for by `begin_immediate`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator

DEADLINE_SECONDS = 30.0  # read at each wait, so that a test may shorten it


def turn_path(database_path: str) -> str:
    """The file whose flock is the turn to write `database_path`."""
    return f"{database_path}.writers"


class TurnNotHad(sqlite3.OperationalError):
    """The turn was not had within the deadline."""


class WriteTurn:
    """One writer's hold on the turn: `held()` in a thread, `held_async()` on an event loop.

    A `WriteTurn` is used by one writer at a time (a database's transactions, under their
    asyncio lock): its open file is what holds the turn. While another
    writer has it, the wait is a thread's (`_Waiter`), so that it can be bounded and, on the
    event loop, is not the loop's.
    """

    def __init__(self, database_path: str) -> None:
        self._path = turn_path(database_path)
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        self._waiter: _Waiter | None = None  # made at the first wait

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the turn, from a thread. Raises TurnNotHad past DEADLINE_SECONDS."""
        give_up = time.monotonic() + DEADLINE_SECONDS
        while not self._take_now():
            left = self._left(give_up, DEADLINE_SECONDS)
            released = threading.Event()
            self._wait(released.set)
            released.wait(left)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    @contextlib.asynccontextmanager
    async def held_async(self, deadline: float | None = None) -> AsyncIterator[None]:
        """Hold the turn, from an event loop, which runs meanwhile. Raises TurnNotHad past
        `deadline` seconds (DEADLINE_SECONDS unless given)."""
        deadline = DEADLINE_SECONDS if deadline is None else deadline
        give_up = time.monotonic() + deadline
        loop = asyncio.get_running_loop()
        while not self._take_now():
            left = self._left(give_up, deadline)
            released: asyncio.Future[None] = loop.create_future()
            self._wait(functools.partial(_resolve_from_thread, loop, released))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(released, left)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _take_now(self) -> bool:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    @staticmethod
    def _left(give_up: float, deadline: float) -> float:
        left = give_up - time.monotonic()
        if left <= 0:
            raise TurnNotHad(
                "database is locked: another writer held the turn to write it for over "
                f"{deadline:g} s"
            )
        return left

    def _wait(self, released: Callable[[], None]) -> None:
        if self._waiter is None:
            self._waiter = _Waiter(self._path)
        self._waiter.wait(released)

    def close(self) -> None:
        """Let the file go; a second call does nothing (a store may be closed twice, and the
        number of a closed file is soon another file's)."""
        if self._fd < 0:
            return
        os.close(self._fd)
        self._fd = -1
        if self._waiter is not None:
            self._waiter.stop()


class _Waiter:
    """A daemon thread that waits, for each request in turn, until the turn is let go, and says
    so. It takes the turn on an open file of its own and lets it go again at once: a turn kept for
    the writer that asked, while that writer's busy event loop got round to it, stopped every
    other writer meanwhile (the p99 of `bench mutations` was worse in four pairs of six). The
    writer then tries again; another may be faster, and is waited for in turn. A daemon, so that
    a wait still going (given up on, or the turn held by a stopped process) never holds the
    process open; the thread alone uses and closes its file, so that no number it holds can be
    another file's."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._requests: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="sqlite-write-turn", daemon=True).start()

    def wait(self, released: Callable[[], None]) -> None:
        self._requests.put(released)

    def stop(self) -> None:
        self._requests.put(None)

    def _run(self) -> None:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while (released := self._requests.get()) is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
                fcntl.flock(fd, fcntl.LOCK_UN)
                released()
        finally:
            os.close(fd)


def _resolve_from_thread(loop: asyncio.AbstractEventLoop, released: asyncio.Future[None]) -> None:
    # A loop closed meanwhile has nobody waiting any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_resolve, released)


def _resolve(released: asyncio.Future[None]) -> None:
    if not released.done():  # not given up on (wait_for cancels it)
        released.set_result(None)
