"""SQLiteDatabase's write transactions: work in a thread ends before a cancellation rolls back, and
a COMMIT that failed leaves the connection able to begin the next transaction."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator

import pytest

from crossroads.adapters.sql.database import SQLiteDatabase

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(tmp_path) -> AsyncIterator[SQLiteDatabase]:
    database = SQLiteDatabase(tmp_path / "store.sqlite3")
    async with database.transaction() as tx:
        await tx.execute("CREATE TABLE t (n INTEGER)")
        # A deferred foreign key is checked at COMMIT: a COMMIT that fails and, as SQLite does
        # for such a failure (and may for a full disk or an I/O error), leaves the transaction open.
        await tx.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        await tx.execute(
            "CREATE TABLE child"
            " (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )
    try:
        yield database
    finally:
        await database.close()


async def test_a_transaction_cancelled_while_its_work_runs_in_a_thread_rolls_back_after_it(db):
    done = threading.Event()

    def work(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (1)")
        time.sleep(0.2)
        conn.execute("INSERT INTO t VALUES (2)")
        done.set()

    async def write() -> None:
        async with db.transaction(large=True) as tx:
            await tx.run(work)

    task = asyncio.ensure_future(write())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert done.is_set()  # the thread was let finish before the rollback
    assert await db.fetchall("SELECT n FROM t") == []
    async with db.transaction() as tx:  # the connection is free and whole
        await tx.execute("INSERT INTO t VALUES (3)")
    assert await db.fetchall("SELECT n FROM t") == [(3,)]


@pytest.mark.parametrize("large", [False, True])
async def test_a_failed_commit_is_rolled_back_and_the_next_transaction_begins(db, large):
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction(large=large) as tx:
            await tx.execute("INSERT INTO t VALUES (1)")
            await tx.execute("INSERT INTO child VALUES (7)")  # no parent 7
    assert await db.fetchall("SELECT n FROM t") == []
    async with db.transaction(large=large) as tx:
        await tx.execute("INSERT INTO t VALUES (2)")
    assert await db.fetchall("SELECT n FROM t") == [(2,)]
