"""The writers' turn on an SQLite file (adapters/sql/write_turn.py): a writer whose turn it is not
waits in the kernel, off the event loop, and never polls SQLite's lock meanwhile; a wait given up
on (past its deadline, or cancelled) leaves the turn to the others."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from crossroads.adapters.sql import write_turn
from crossroads.adapters.sql.audit_file import audit_path
from crossroads.adapters.sql.database import SQLiteDatabase
from crossroads.adapters.sql.store import open_store
from crossroads.adapters.sql.write_turn import WriteTurn, turn_path
from crossroads.domain.audit import AuditRecord

pytestmark = pytest.mark.anyio


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "store.sqlite3")


@pytest.fixture
def other_process(path: str) -> Iterator[int]:
    """The turn file opened as another hub process's writer opens it."""
    fd = os.open(turn_path(path), os.O_RDWR | os.O_CREAT, 0o600)
    yield fd
    os.close(fd)


@pytest.fixture
async def db(path: str) -> AsyncIterator[SQLiteDatabase]:
    """A database of one table, `t`."""
    database = SQLiteDatabase(path)
    async with database.transaction() as tx:
        await tx.execute("CREATE TABLE t (v INTEGER)")
    yield database
    await database.close()


async def write(db: SQLiteDatabase, value: int) -> None:
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO t (v) VALUES (?)", (value,))


def free(fd: int) -> bool:
    """Whether the turn can be had at once through `fd` (and is let go again)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    fcntl.flock(fd, fcntl.LOCK_UN)
    return True


async def until_free(fd: int, seconds: float = 5.0) -> bool:
    give_up = time.monotonic() + seconds
    while not free(fd):
        if time.monotonic() > give_up:
            return False
        await asyncio.sleep(0.01)
    return True


async def test_a_transaction_waits_for_the_turn_another_writer_holds_without_polling_sqlite(
    path: str, db: SQLiteDatabase, other_process: int
) -> None:
    begins: list[str] = []
    db._writer.set_trace_callback(
        lambda sql: begins.append(sql) if sql.startswith("BEGIN") else None
    )
    # Another process's writer in its transaction: the turn, then SQLite's own lock.
    other = sqlite3.connect(path, isolation_level=None)
    fcntl.flock(other_process, fcntl.LOCK_EX)
    other.execute("BEGIN IMMEDIATE")
    waiting = asyncio.ensure_future(write(db, 1))
    await asyncio.sleep(0.3)  # a writer polling every 0.2 ms would have tried 1,500 times
    assert not waiting.done()
    assert begins == []
    other.execute("INSERT INTO t (v) VALUES (0)")
    other.execute("COMMIT")
    other.close()
    fcntl.flock(other_process, fcntl.LOCK_UN)
    await asyncio.wait_for(waiting, 5)
    assert begins == ["BEGIN IMMEDIATE"]
    assert await db.fetchall("SELECT v FROM t ORDER BY v") == [(0,), (1,)]
    assert free(other_process)  # the transaction let its turn go


async def test_the_loop_runs_while_a_transaction_waits_for_the_turn(
    db: SQLiteDatabase, other_process: int
) -> None:
    fcntl.flock(other_process, fcntl.LOCK_EX)
    waiting = asyncio.ensure_future(write(db, 1))
    ticks = 0
    for _ in range(20):
        await asyncio.sleep(0.005)
        ticks += 1
    assert ticks == 20 and not waiting.done()
    # Reads go on meanwhile: they take no turn.
    assert await db.fetchall("SELECT COUNT(*) FROM t") == [(0,)]
    fcntl.flock(other_process, fcntl.LOCK_UN)
    await asyncio.wait_for(waiting, 5)


@pytest.fixture
def short_deadline(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(write_turn, "DEADLINE_SECONDS", 0.3)
    return 0.3


async def test_a_turn_not_had_within_its_deadline_is_reported_and_left_to_the_others(
    path: str, other_process: int, short_deadline: float
) -> None:
    turn = WriteTurn(path)
    try:
        fcntl.flock(other_process, fcntl.LOCK_EX)
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            async with turn.held_async():
                pytest.fail("the turn was had while another writer held it")
        assert short_deadline <= time.monotonic() - started < 2
        with pytest.raises(sqlite3.OperationalError, match="locked"), turn.held():
            pytest.fail("the audit writer's thread had the turn while another writer held it")
        fcntl.flock(other_process, fcntl.LOCK_UN)
        # The wait given up on is still going in its thread: it takes the turn and lets it go.
        assert await until_free(other_process)
        async with turn.held_async():
            assert not free(other_process)
        assert free(other_process)
    finally:
        turn.close()


async def test_a_wait_cancelled_leaves_the_turn_free(path: str, other_process: int) -> None:
    turn = WriteTurn(path)
    try:
        fcntl.flock(other_process, fcntl.LOCK_EX)

        async def hold() -> None:
            async with turn.held_async():
                await asyncio.sleep(60)

        waiting = asyncio.ensure_future(hold())
        await asyncio.sleep(0.1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        fcntl.flock(other_process, fcntl.LOCK_UN)
        assert await until_free(other_process)
        await asyncio.sleep(0.1)  # nothing takes it later on either
        assert free(other_process)
    finally:
        turn.close()


async def test_a_writer_takes_the_turn_from_every_other_open_file_even_in_one_process(
    path: str,
) -> None:
    """The audit writer's thread and the event loop each open the file: their turns exclude each
    other as two processes' do."""
    first, second = WriteTurn(path), WriteTurn(path)
    order: list[str] = []

    async def take_second() -> None:
        async with second.held_async():
            order.append("second")

    try:
        with first.held():
            taking = asyncio.ensure_future(take_second())
            await asyncio.sleep(0.1)
            order.append("first")
        await asyncio.wait_for(taking, 5)
        assert order == ["first", "second"]
    finally:
        first.close()
        second.close()


async def test_a_database_closed_twice_closes_no_other_file(path: str) -> None:
    db = SQLiteDatabase(path)
    await db.close()
    other = os.open(turn_path(path), os.O_RDWR)  # may be given the number the turn's file had
    try:
        await db.close()
        os.fstat(other)
    finally:
        os.close(other)


async def test_an_audit_append_fails_when_the_turn_is_not_had_and_the_writer_goes_on(
    path: str, short_deadline: float
) -> None:
    """A hub process stopped in its transaction holds the audit file's turn: the appends waiting
    fail as from a failed commit, instead of waiting for ever, and the next ones are written once
    it is let go."""
    store = await open_store(f"sqlite:///{path}")
    other_process = os.open(turn_path(audit_path(path)), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(other_process, fcntl.LOCK_EX)
        record = AuditRecord(kind="request", at_ms=1, outcome="ok")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await asyncio.wait_for(store.audit.append(record), 5)
        fcntl.flock(other_process, fcntl.LOCK_UN)
        await asyncio.wait_for(store.audit.append(record), 5)
        assert await store.audit.count() == 1
    finally:
        os.close(other_process)
        await store.close()


def turn_files_open() -> int:
    """How many files of this process are a writers' turn."""
    return sum(
        os.readlink(f"/proc/self/fd/{fd}").endswith(".writers")
        for fd in os.listdir("/proc/self/fd")
        if os.path.exists(f"/proc/self/fd/{fd}")
    )


async def test_a_closed_turn_lets_go_of_its_files_and_never_of_another_files_lock(
    path: str, tmp_path: Path, other_process: int
) -> None:
    """Waits given up on and still going when the turn is closed: their thread closes its own
    file once through, and lets go of no other file's lock whose number its file had."""
    before = turn_files_open()
    turn = WriteTurn(path)
    fcntl.flock(other_process, fcntl.LOCK_EX)
    for _ in range(2):  # the second queued behind the first
        waiting = asyncio.ensure_future(turn.held_async().__aenter__())
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    turn.close()
    turn.close()
    others = [os.open(tmp_path / f"other-{i}", os.O_RDWR | os.O_CREAT) for i in range(4)]
    try:
        for fd in others:
            fcntl.flock(fd, fcntl.LOCK_EX)
        fcntl.flock(other_process, fcntl.LOCK_UN)
        for _ in range(500):  # the waiting thread, once through, closes its file
            if turn_files_open() == before:
                break
            await asyncio.sleep(0.01)
        assert turn_files_open() == before
        for i in range(4):
            probe = os.open(tmp_path / f"other-{i}", os.O_RDWR)
            try:
                with pytest.raises(BlockingIOError):
                    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            finally:
                os.close(probe)
    finally:
        for fd in others:
            os.close(fd)


def test_a_process_that_gave_up_on_the_turn_exits_at_once(path: str, other_process: int) -> None:
    """The thread still waiting for a turn held elsewhere never holds its process open."""
    script = (
        "import asyncio, sqlite3\n"
        "from crossroads.adapters.sql import write_turn\n"
        "write_turn.DEADLINE_SECONDS = 0.2\n"
        "async def main():\n"
        f"    turn = write_turn.WriteTurn({path!r})\n"
        "    try:\n"
        "        async with turn.held_async():\n"
        "            raise SystemExit('had the turn')\n"
        "    except sqlite3.OperationalError:\n"
        "        turn.close()\n"
        "asyncio.run(main())\n"
    )
    fcntl.flock(other_process, fcntl.LOCK_EX)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], timeout=20, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 5
