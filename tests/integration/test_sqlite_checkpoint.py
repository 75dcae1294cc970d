"""SQLite's write-ahead log reaches the database file through the checkpointer thread, not
commits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from crossroads.adapters.sql.checkpoint import WalCheckpointer
from crossroads.adapters.sql.connect import sqlite_connect
from crossroads.adapters.sql.database import SQLiteDatabase
from crossroads.adapters.sql.store import open_store
from crossroads.domain.audit import AuditRecord

pytestmark = pytest.mark.anyio


def test_commits_leave_the_log_to_the_checkpointer(tmp_path):
    path = tmp_path / "plain.sqlite3"
    conn = sqlite_connect(path)
    conn.execute("CREATE TABLE t (v BLOB)")
    for _ in range(50):  # about 2,000 pages of log: SQLite's default would have checkpointed twice
        conn.execute("INSERT INTO t VALUES (randomblob(160000))")
    assert Path(f"{path}-wal").stat().st_size > 7_000_000
    assert path.stat().st_size < 100_000  # nothing copied into the database file by a commit
    conn.close()


def size_of(file: str) -> int:
    return Path(file).stat().st_size


async def test_the_store_checkpoints_in_the_background(tmp_path):
    store = await open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    path = store.audit_db.path  # the audit log's own file, with its own checkpointer
    try:
        before = size_of(path)
        await asyncio.gather(
            *(
                store.audit.append(
                    AuditRecord(kind="exchange", at_ms=i, outcome="ok", request_id=f"r{i}" * 40)
                )
                for i in range(3000)
            )
        )
        for _ in range(100):
            if size_of(path) > before + 500_000:
                break
            await asyncio.sleep(0.05)
        assert size_of(path) > before + 500_000  # the entries reached the database file while open
        assert store.audit_db.checkpointer.failures == 0
    finally:
        await store.close()


def test_under_steady_writes_the_log_is_started_over_instead_of_growing(tmp_path):
    path = tmp_path / "steady.sqlite3"
    conn = sqlite_connect(path)
    conn.execute("CREATE TABLE t (v BLOB)")
    checkpointer = WalCheckpointer(str(path), interval=0.01, restart_frames=500)
    checkpointer.start()
    try:
        largest = 0
        for _ in range(600):  # about 100 MB through the log, never pausing for long
            conn.execute("INSERT INTO t VALUES (randomblob(160000))")
            checkpointer.restart_if_wanted(conn)  # as the audit writer does between its batches
            largest = max(largest, Path(f"{path}-wal").stat().st_size)
    finally:
        checkpointer.close()
        conn.close()
    assert checkpointer.failures == 0
    assert largest < 40_000_000  # without starting over, the log would hold all 100 MB


def test_a_log_started_over_keeps_its_file_for_the_next_commits_to_write_over(tmp_path):
    """Started over, the log is written again from its start over the file it has: cut to
    nothing, it grew again by every commit, and each commit's sync wrote the file's new size and
    blocks too."""
    path = tmp_path / "reused.sqlite3"
    conn = sqlite_connect(path)
    conn.execute("CREATE TABLE t (v BLOB)")
    checkpointer = WalCheckpointer(str(path), interval=0.01, restart_frames=500)
    checkpointer.start()
    log = Path(f"{path}-wal")
    try:
        sizes = []
        for _ in range(300):
            conn.execute("INSERT INTO t VALUES (randomblob(160000))")
            started_over = checkpointer.restart_wanted.is_set()
            checkpointer.restart_if_wanted(conn)
            if started_over and not checkpointer.restart_wanted.is_set():
                sizes.append(log.stat().st_size)
    finally:
        checkpointer.close()
        conn.close()
    assert sizes, "the log was never started over"
    assert min(sizes) >= 500 * 4096  # the file kept, not cut to nothing
    assert max(sizes) < 40_000_000


async def test_the_stores_own_writer_starts_its_log_over_when_asked(tmp_path):
    """The audit log's writer starts over its own file's log (audit_file.py): the store's file
    is started over by the store's transactions, between two of them."""
    db = SQLiteDatabase(str(tmp_path / "own.sqlite3"))
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE t (v BLOB)")
        for _ in range(20):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO t VALUES (randomblob(100000))")
        db.checkpointer.restart_wanted.set()  # as the checkpointer asks past its frames
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO t VALUES (1)")
        assert not db.checkpointer.restart_wanted.is_set()
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO t VALUES (2)")
        [(_, logged, _)] = await db.fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        assert logged < 10  # the log holds the last transaction's pages, not the 500 before
    finally:
        await db.close()
