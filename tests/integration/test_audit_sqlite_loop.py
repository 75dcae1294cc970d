"""Where the SQLite audit log commits: an exchange's few records on the event loop, a large batch
in a thread while the loop goes on (adapters/sql/audit.py, SQLiteAuditLog)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable

import pytest

from crossroads.adapters.sql import audit as audit_adapter
from crossroads.adapters.sql.audit_file import audit_path
from crossroads.adapters.sql.store import SqlStore, open_store, sqlite_path
from crossroads.domain.audit import AuditRecord

pytestmark = pytest.mark.anyio


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'store.sqlite3'}"


def record(i: int) -> AuditRecord:
    return AuditRecord(kind="exchange", at_ms=i, outcome="ok", request_id=f"r{i}")


async def lock_seen_while(path: str, work: Awaitable) -> tuple[int, int]:
    """Run `work`; meanwhile, at every turn of the event loop, try to take the audit file's write
    lock as another process would. Returns (tries, tries that found it held): a transaction
    that stays open across turns of the loop is seen held; one begun and committed within a
    single turn never is."""
    probe = sqlite3.connect(path, isolation_level=None, timeout=0)
    task = asyncio.ensure_future(work)
    tries = held = 0
    try:
        while not task.done():
            tries += 1
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
            except sqlite3.OperationalError as exc:
                assert "locked" in str(exc)
                held += 1
            await asyncio.sleep(0)
        await task
    finally:
        probe.close()
    return tries, held


async def test_an_exchanges_records_are_committed_within_one_turn_of_the_event_loop(sqlite_url):
    store = await open_store(sqlite_url)
    try:
        path = audit_path(sqlite_path(sqlite_url))
        # The first batch after start goes to a thread: it may have entries of an earlier
        # version to index. It finds none, and from then on batches are the loop's.
        await store.audit.append(record(0))
        appends = asyncio.gather(*(store.audit.append(record(i)) for i in range(1, 9)))
        tries, held = await lock_seen_while(path, appends)
        assert tries >= 1 and held == 0
        assert await store.audit.count() == 9
    finally:
        await store.close()


async def test_a_large_batch_is_committed_in_a_thread_while_the_event_loop_goes_on(sqlite_url):
    store = await open_store(sqlite_url)
    try:
        path = audit_path(sqlite_path(sqlite_url))
        await store.audit.append(record(0))  # the first batch, a thread's anyway
        count = audit_adapter._MAX_BATCH  # one transaction, far over the loop's
        _, held = await lock_seen_while(
            path, store.audit.append_many([record(i) for i in range(count)])
        )
        assert held >= 1  # the loop ran while the transaction was open
        assert await store.audit.count() == count + 1
        # The tree grew as with small batches: each entry its own leaf.
        assert await store.transparency.size() == count + 1
    finally:
        await store.close()


async def test_an_appender_given_up_on_still_has_its_record_committed(sqlite_url):
    """What was queued is written: an exchange cancelled (its caller gone) while its large batch
    is written in a thread does not take its records out of the log, nor stop the writer."""
    store = await open_store(sqlite_url)
    try:
        count = audit_adapter._ROWS_ON_LOOP * 5
        big = asyncio.ensure_future(store.audit.append_many([record(i) for i in range(count)]))
        await asyncio.sleep(0.005)
        big.cancel()
        await asyncio.gather(big, return_exceptions=True)
        assert await store.audit.append(record(count)) == count + 1
        assert await store.transparency.size() == count + 1
    finally:
        await store.close()


def test_a_store_closes_after_the_event_loop_that_appended_ended_mid_batch(sqlite_url):
    """A flush its event loop cancelled as it ended (an `asyncio.run` over) does not stop the
    store from closing on the next loop."""

    async def first() -> tuple[SqlStore, asyncio.Future]:
        store = await open_store(sqlite_url)
        appending = asyncio.ensure_future(store.audit.append_many([record(i) for i in range(500)]))
        await asyncio.sleep(0)  # the flush has begun
        return store, appending

    store, appending = asyncio.run(first())
    assert appending.cancelled()
    asyncio.run(store.close())
