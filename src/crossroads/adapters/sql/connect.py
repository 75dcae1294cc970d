"""SQLite connections, configured one way for every part of the hub, and taking the write lock."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote


def sqlite_connect(path: str | Path, *, busy_timeout_ms: int = 30000) -> sqlite3.Connection:
    """Open a connection configured the same way everywhere (WAL, foreign keys, busy timeout).

    synchronous=FULL makes a commit durable against power loss, not only a process crash: what
    the hub acknowledged must survive both. Batched commits pay the fsync once per batch.
    Commits never checkpoint: a WalCheckpointer thread does (see checkpoint.py), and the log file
    is cut back to 128 MB after a burst (above the 64 MB at which the checkpointer starts it
    over, so that a log started over is written over in place, never cut: checkpoint.py).
    """
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    _into_wal(conn, busy_timeout_ms)
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("PRAGMA journal_size_limit=134217728")
    # SQLite's default page cache is 2 MB; the directory is a B-tree keyed by random hashes, so
    # at millions of rows nearly every insert missed it. 128 MB per connection keeps the upper
    # levels and recent leaves in memory (the OS cache holds the rest).
    conn.execute("PRAGMA cache_size=-131072")
    return conn


def _into_wal(conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """Put the file in WAL mode (a no-op once it is). A file still new, opened by several
    processes at once, is in the rollback journal's mode: there the switch needs the file to
    itself, and SQLite answers "locked" at once, without waiting, to a connection that would
    otherwise wait for another waiting for it. Tried again until the busy timeout."""
    give_up = time.monotonic() + max(busy_timeout_ms, 1000) / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > give_up:
                raise
            time.sleep(0.005)


def read_only_uri(path: str | Path) -> str:
    """A URI that opens the SQLite file at `path` read-only, whatever its name holds: SQLite ends
    a URI's path at '?' or '#' and decodes '%HH' in it, and a path that begins with '//' would be
    read as an authority. The path is made absolute and each byte of it quoted (a file name that is
    not UTF-8 included)."""
    return f"file://{quote(os.fsencode(os.path.abspath(path)))}?mode=ro"


def begin_immediate(conn: sqlite3.Connection, deadline_seconds: float = 30.0) -> None:
    """Take SQLite's write lock, retrying every 0.2 ms while another process holds it.

    SQLite's own busy handler sleeps in growing steps (up to 100 ms) while it waits; with several
    hub processes appending audit records, that sleeping, not the work, made the slowest answers.
    The connection must have been opened with busy_timeout_ms=0, so that this loop is the waiting
    (setting the timeout around each BEGIN cost two more statements per batch, each of which must
    take the GIL back from a busy event loop).
    """
    give_up = time.monotonic() + deadline_seconds
    while not _try_begin(conn, give_up):
        time.sleep(0.0002)


async def begin_immediate_async(conn: sqlite3.Connection, deadline_seconds: float = 30.0) -> None:
    """`begin_immediate` for a connection used on the event loop: between tries the loop runs
    (at its timer's resolution, about a millisecond), instead of standing still in the wait."""
    give_up = time.monotonic() + deadline_seconds
    # The lock is another connection's, maybe another process's: no event tells its release.
    while not _try_begin(conn, give_up):  # noqa: ASYNC110
        await asyncio.sleep(0.0002)


def _try_begin(conn: sqlite3.Connection, give_up: float) -> bool:
    """True once the write lock is taken; False while another connection holds it; raises past
    `give_up` (the lock held that long is a fault to report, not to wait out)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        return True
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        if time.monotonic() > give_up:
            raise
        return False
