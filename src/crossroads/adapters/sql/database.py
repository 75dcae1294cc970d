"""Two database drivers behind one small async interface.

SQLite runs in-process: its indexed reads take microseconds, less than a hop to a thread would
cost, so they run inline on a dedicated read connection; writes are serialised on a second
connection under an asyncio lock. Taking SQLite's write lock, which another hub process may
hold, is the one wait: the transaction first takes the writers' turn
(write_turn.py), waiting for it in a thread while another writer has it, then SQLite's lock,
yielding to the event loop between tries (`begin_immediate_async`) should a writer that does not
take turns hold it; never inside SQLite's busy handler, which would stall the whole event loop in
sleeps of up to 100 ms. PostgreSQL uses psycopg 3's async connection pool, each
of its waits bounded (outage.py).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from ...services.ports import StoreUnavailable
from . import write_turn
from .checkpoint import WalCheckpointer
from .connect import begin_immediate_async, sqlite_connect
from .multi_row import insert_values
from .outage import connect_options, is_outage, is_pool_timeout, watchdog
from .write_turn import WriteTurn

T = TypeVar("T")

Row = tuple[Any, ...]
# How long a `slow` SQLite transaction waits for the file (a migration waiting for another
# process's, or for its move of the audit log): as long as that move waits (audit_file.py).
SLOW_WAIT_SECONDS = 600.0


class Transaction(abc.ABC):
    @abc.abstractmethod
    async def execute(
        self, sql: str, params: Sequence[Any] = (), *, fresh_plan: bool = False
    ) -> int:
        """Run one statement; return the number of rows it changed. `fresh_plan`: as for
        `Database.fetchall`."""

    @abc.abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    @abc.abstractmethod
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: list[Sequence[Any]]
    ) -> None:
        """Insert many rows at once, by the fastest path the database has (COPY, one statement…)."""
        marks = ", ".join("?" for _ in columns)
        await self.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def finish(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Run the transaction's last statements; it commits after them. PostgreSQL sends them
        and the COMMIT in one pipeline, so that a lock they take is held for the server's work
        alone, not also for round trips to a hub process busy with other requests."""
        for sql, params in statements:
            await self.execute(sql, params)


class Database(abc.ABC):
    dialect: str

    @abc.abstractmethod
    async def fetchall(
        self, sql: str, params: Sequence[Any] = (), *, fresh_plan: bool = False
    ) -> list[Row]:
        """`fresh_plan`: PostgreSQL plans the statement for these parameters every time instead of
        keeping a prepared, generic plan. For reads of tables that grow from empty while the hub
        runs (the outbox, the mutations, the directory): psycopg prepares a statement after five
        runs, and the generic plan made while the table was nearly empty scanned it whole later."""

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    @abc.abstractmethod
    def transaction(self, large: bool = False, *, slow: bool = False) -> Any:
        """An async context manager yielding a Transaction; commits on success, rolls back on error.

        `large`: the transaction writes a large value (a batch file); SQLite then runs its
        statements and its commit in a thread, so the event loop is not held while the value is
        copied into the log and synced. `slow`: its statements may rightly take long (a schema
        migration, or waiting for another process's): PostgreSQL's statement bound is lifted."""

    @abc.abstractmethod
    async def close(self) -> None: ...


class _SQLiteTransaction(Transaction):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute(
        self, sql: str, params: Sequence[Any] = (), *, fresh_plan: bool = False
    ) -> int:
        return self._conn.execute(sql, params).rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._conn.execute(sql, params).fetchall()

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: list[Sequence[Any]]
    ) -> None:
        insert_values(self._conn, f"INSERT INTO {table} ({', '.join(columns)}) VALUES ", rows)

    async def run(self, work: Callable[[sqlite3.Connection], T], in_thread: bool = False) -> T:
        """`work(connection)`, synchronous code that makes several statements of the transaction
        at once (the audit log's append: adapters/sql/audit.py): on the event loop, or in a
        thread (`to_the_end_in_thread`), as a large transaction's statements are."""
        if in_thread:
            return await to_the_end_in_thread(work, self._conn)
        return work(self._conn)


class _SQLiteThreadTransaction(_SQLiteTransaction):
    """Each statement in a thread; the connection is still used by one caller at a time (the
    database's lock is held), and sqlite3 lets go of the GIL while SQLite works."""

    async def execute(
        self, sql: str, params: Sequence[Any] = (), *, fresh_plan: bool = False
    ) -> int:
        return await to_the_end_in_thread(lambda: self._conn.execute(sql, params).rowcount)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await to_the_end_in_thread(lambda: self._conn.execute(sql, params).fetchall())

    async def run(self, work: Callable[[sqlite3.Connection], T], in_thread: bool = True) -> T:
        return await super().run(work, in_thread)


async def to_the_end_in_thread(work: Callable[..., T], *args: Any) -> T:
    """`work(*args)` in a thread. Cancelled meanwhile, it waits for the thread to be done (with
    the connection it was given) before the cancellation goes on, to roll a transaction back."""
    job = asyncio.ensure_future(asyncio.to_thread(work, *args))
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        while not job.done():  # cancelled again meanwhile: still not before the thread is done
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([job])
        raise


class SQLiteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = sqlite_connect(
            self.path, busy_timeout_ms=0
        )  # begin_immediate_async does the waiting
        self._reader = sqlite_connect(self.path)
        self._lock = asyncio.Lock()
        self._turn = WriteTurn(self.path) if self.path != ":memory:" else None
        self.checkpointer = WalCheckpointer(self.path)
        self.checkpointer.start()

    async def fetchall(
        self, sql: str, params: Sequence[Any] = (), *, fresh_plan: bool = False
    ) -> list[Row]:
        return self._reader.execute(sql, params).fetchall()

    @asynccontextmanager
    async def transaction(
        self, large: bool = False, *, slow: bool = False, restart_log: bool = True
    ) -> AsyncIterator[Transaction]:
        """`restart_log=False`: the log is not started over after this transaction even if the
        checkpointer asks (the caller does it once it has answered: `restart_log_if_wanted`)."""
        # A migration, or a wait for another process's (a move of the audit log: audit_file.py),
        # may rightly hold the file for minutes.
        deadline = SLOW_WAIT_SECONDS if slow else write_turn.DEADLINE_SECONDS
        async with self._lock, self._turn_held(deadline):
            await begin_immediate_async(self._writer, deadline)
            try:
                yield (_SQLiteThreadTransaction if large else _SQLiteTransaction)(self._writer)
            except BaseException:
                self._roll_back()
                raise
            await self._commit(large)
            if restart_log and self.checkpointer.restart_wanted.is_set():
                await self._restart_log()

    async def restart_log_if_wanted(self) -> None:
        """Start the log over if the checkpointer asks, between two transactions."""
        if self.checkpointer.restart_wanted.is_set():
            async with self._lock, self._turn_held(write_turn.DEADLINE_SECONDS):
                await self._restart_log()

    def _roll_back(self) -> None:
        """ROLLBACK, unless SQLite already ended the transaction (as it may on a full disk or an
        I/O error): the error the caller gets is the one that failed the transaction."""
        if self._writer.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._writer.execute("ROLLBACK")

    async def _commit(self, large: bool) -> None:
        """COMMIT, in a thread when `large`. A COMMIT that failed may leave the transaction open
        (SQLite says so of a full disk, an I/O error, a deferred constraint): it is rolled back,
        or every later transaction of this connection would fail to begin."""
        try:
            if large:
                await to_the_end_in_thread(self._writer.execute, "COMMIT")
            else:
                self._writer.execute("COMMIT")
        except BaseException:
            self._roll_back()
            raise

    async def _restart_log(self) -> None:
        """Between two transactions, the turn still held: the log started over, as the
        checkpointer asks (checkpoint.py). In a thread: after a long reader (a backup) let the log
        grow, what is left to copy may take seconds. The connection is not let go before the
        thread is done with it."""
        await to_the_end_in_thread(self.checkpointer.restart_if_wanted, self._writer)

    def _turn_held(self, deadline: float) -> contextlib.AbstractAsyncContextManager[None]:
        if self._turn is None:
            return contextlib.nullcontext()
        return self._turn.held_async(deadline)

    async def close(self) -> None:
        self.checkpointer.close()
        self._reader.close()
        self._writer.close()
        if self._turn is not None:
            self._turn.close()


@lru_cache(maxsize=512)
def to_psycopg(sql: str) -> str:
    # Our SQL never contains a literal '?' or '%' (only, in PostgreSQL's own statements, psycopg's
    # `%b` for a binary parameter), so the rewrite is a plain substitution.
    return sql.replace("?", "%s")


_BULK_ROWS = 1000  # from this many rows, insert_rows uses COPY


class _PostgresTransaction(Transaction):
    """Each statement under the watchdog (outage.py): `bound` seconds at most (None: unbounded)."""

    def __init__(self, conn: Any, bound: float | None) -> None:
        self._conn = conn
        self._bound = bound
        self.committed = False

    async def finish(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        with watchdog(self._conn, self._bound):
            async with self._conn.pipeline():
                for sql, params in statements:
                    await self._conn.execute(to_psycopg(sql), params)
                await self._conn.execute("COMMIT")
        self.committed = True

    async def execute(
        self, sql: str, params: Sequence[Any] = (), *, fresh_plan: bool = False
    ) -> int:
        with watchdog(self._conn, self._bound):
            cur = await self._conn.execute(
                to_psycopg(sql), params, prepare=False if fresh_plan else None
            )
        return cur.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with watchdog(self._conn, self._bound):
            async with self._conn.cursor() as cur:
                await cur.executemany(to_psycopg(sql), list(rows))

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with watchdog(self._conn, self._bound):
            cur = await self._conn.execute(to_psycopg(sql), params)
            return await cur.fetchall()

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: list[Sequence[Any]]
    ) -> None:
        if len(rows) < _BULK_ROWS:
            await super().insert_rows(table, columns, rows)
            return
        with watchdog(self._conn, self._bound):
            async with (
                self._conn.cursor() as cur,
                cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    await copy.write_row(row)


class PostgresDatabase(Database):
    """psycopg's pool, every wait bounded (outage.py): connecting and taking a connection by
    `timeout`, each statement by `statement_timeout` (seconds). A lost server or connection is
    raised as `StoreUnavailable`; a read that met a connection the server had dropped is tried
    again on another, while its bound lasts."""

    dialect = "postgres"

    def __init__(
        self,
        pool: Any,
        timeout: float = 5.0,
        statement_timeout: float = 30.0,
        dsn: str | None = None,
    ) -> None:
        """`dsn`: the server the pool connects to, for a reader that needs a connection of its
        own (the statistics extraction's bulk reads: arrow_reads.py)."""
        self.pool = pool
        self.timeout = timeout
        self.statement_timeout = statement_timeout
        self.dsn = dsn

    @classmethod
    async def connect(
        cls,
        dsn: str,
        min_size: int = 2,
        max_size: int = 10,
        *,
        wait_seconds: float = 5.0,
        statement_seconds: float = 30.0,
    ) -> PostgresDatabase:
        from psycopg_pool import AsyncConnectionPool

        # Autocommit: a lone read is one round trip, not three (the implicit BEGIN, the query, and
        # the COMMIT the pool issues when the connection comes back); `transaction()` still opens
        # an explicit one around writes.
        patience = max(wait_seconds, 10.0)
        pool = AsyncConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            open=False,
            timeout=wait_seconds,
            # psycopg's pool tries a lost connection again with a doubling wait for
            # `reconnect_timeout` (5 minutes by default): after an outage of a minute the hub
            # stayed not ready for up to another minute with the server back. Given up after
            # `patience`, a new attempt starts at the next request that finds the pool empty, so
            # no wait between attempts exceeds half of it, however long the outage. Not shorter
            # than the start's own wait, which goes through the same attempts.
            reconnect_timeout=patience,
            kwargs={"autocommit": True, **connect_options(wait_seconds)},
        )
        try:
            await pool.open(wait=True, timeout=patience)
        except Exception as exc:
            await pool.close()
            if is_outage(exc):
                raise StoreUnavailable() from exc
            raise
        return cls(pool, wait_seconds, statement_seconds, dsn)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """A pooled connection; an outage met while it is held is raised as StoreUnavailable."""
        try:
            async with self.pool.connection() as conn:
                yield conn
        except StoreUnavailable:
            raise
        except Exception as exc:
            if is_outage(exc):
                raise StoreUnavailable() from exc
            raise

    async def fetchall(
        self, sql: str, params: Sequence[Any] = (), *, fresh_plan: bool = False
    ) -> list[Row]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.statement_timeout
        tries = self.pool.max_size + 1  # enough to go through every pooled connection
        while True:
            tries -= 1
            try:
                async with self.connection() as conn:
                    with watchdog(conn, deadline - loop.time()):
                        cur = await conn.execute(
                            to_psycopg(sql), params, prepare=False if fresh_plan else None
                        )
                        return await cur.fetchall()
            except StoreUnavailable as outage:
                # A read changes nothing: after a connection the server dropped (its restart,
                # pg_terminate_backend), another may work. The pool discarded the broken one.
                if is_pool_timeout(outage.__cause__) or not tries or loop.time() >= deadline:
                    raise

    @asynccontextmanager
    async def transaction(
        self, large: bool = False, *, slow: bool = False
    ) -> AsyncIterator[Transaction]:
        # BEGIN and COMMIT by hand (the connection is in autocommit), each under the watchdog
        # like the statements between them.
        bound = None if slow else self.statement_timeout
        async with self.connection() as conn:
            with watchdog(conn, bound):
                await conn.execute("BEGIN")
            tx = _PostgresTransaction(conn, bound)
            try:
                yield tx
            except BaseException:
                # A broken connection cannot roll back; the pool then discards it, and the
                # server rolls back the transaction of a session that went away.
                with contextlib.suppress(Exception), watchdog(conn, bound):
                    await conn.execute("ROLLBACK")
                raise
            if not tx.committed:  # (finish() committed in its pipeline)
                with watchdog(conn, bound):
                    await conn.execute("COMMIT")

    async def close(self) -> None:
        await self.pool.close()
