"""Query results as Arrow tables: the statistics extraction's bulk reads of the hub's store.

Each store is read on a read-only connection of its own in a worker thread, so that the event
loop is not held by a read. (From SQLite the rows become Python tuples, and Arrow columns, while
holding the interpreter's lock: the hub's requests share it with the extraction meanwhile.)

- PostgreSQL: ADBC's PostgreSQL driver (libpq), which reads a query as
  `COPY (query) TO STDOUT (FORMAT binary)` straight into typed Arrow columns, without a Python
  object per value. Measured on one batch of 200,000 audit records (docs/benchmarks.md):
  0.37-0.41 s and 0.06-0.08 CPU-s, where the pool's rows then columns took 1.4-3.7 s, psycopg's
  `COPY … (FORMAT csv)` read by pyarrow's CSV reader 1.1-1.6 s, and psycopg's binary COPY as
  rows 2.2-3.6 s. Bind parameters would make the driver prepare the statement and read it
  without COPY (twice as slow, or worse), so the statement's marks are replaced by the integers
  they stand for (`_inlined`): every read of the extraction is bounded by positions and counts,
  never by a text value. The session is read-only and each statement bounded by the store's
  statement timeout; connecting is bounded like the store's pool (outage.py).
- A SQLite file: the `sqlite3` module, rows then columns. Not ADBC's SQLite driver, though it
  was several times cheaper: that driver carries its own copy of SQLite, linked in statically,
  and two copies of SQLite on one database file in one process corrupt it. POSIX locks belong
  to the process, so when one copy closes the file it drops the other's locks; the next to open
  then believes itself alone and starts the shared-memory index over under the other's feet
  (sqlite.org/howtocorrupt.html, "multiple copies of SQLite"). The hub died of it with a bus
  error in the WAL checkpointer, and a reader was told the database was malformed
  (tests/integration/test_statistics_sqlite_reads.py makes it happen with that driver). Each
  statement holds its snapshot of the log while its rows are made, a little longer than the
  driver did: a TRUNCATE checkpoint that meets one waits for the next turn (checkpoint.py), so
  the log may grow during an extraction and is started over after it.

A SQLite database in memory (which another connection cannot open) is read through the store's
own connection, the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

import pyarrow

from ...services.ports import StoreUnavailable
from .connect import read_only_uri
from .database import Database, PostgresDatabase, SQLiteDatabase
from .outage import SHUTTING_DOWN, connect_options


def _typed(column: pyarrow.ChunkedArray, wanted: pyarrow.DataType) -> pyarrow.ChunkedArray:
    # A column with no value at all (or no row) has no type to infer: the driver says int64.
    if column.null_count == len(column):
        return pyarrow.chunked_array([pyarrow.nulls(len(column), wanted)])
    return column.cast(wanted)


def _from_rows(rows: Sequence[Sequence[Any]], schema: pyarrow.Schema) -> pyarrow.Table:
    """The rows (tuples) as a table of `schema`. Read as one struct array: four times faster
    than turning the rows into columns first (0.045 s against 0.17-0.19 s for 200,000 rows of
    seven columns)."""
    rows_as_structs = pyarrow.array(rows, type=pyarrow.struct(schema))
    return pyarrow.Table.from_struct_array(rows_as_structs).cast(schema)


def _inlined(sql: str, params: Sequence[Any]) -> str:
    """`sql` with each `?` replaced by its parameter, which must be an integer (our SQL holds no
    other `?`): written as digits, a value cannot change the statement."""
    parts = sql.split("?")
    if len(parts) != len(params) + 1:
        raise ValueError(f"{len(parts) - 1} marks for {len(params)} parameters")
    out = [parts[0]]
    for value, rest in zip(params, parts[1:], strict=True):
        if type(value) is not int:
            raise TypeError(f"only integers are inlined, not {type(value).__name__}")
        out.append(str(value))
        out.append(rest)
    return "".join(out)


class ArrowReads:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._driver: str | None = None
        if isinstance(db, SQLiteDatabase) and db.path != ":memory:":
            self._driver = "sqlite"
        elif isinstance(db, PostgresDatabase) and db.dsn is not None:
            self._driver = "postgresql"
        self._connection: Any = None
        self._lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self._db.dialect

    async def table(self, sql: str, params: Sequence[Any], schema: pyarrow.Schema) -> pyarrow.Table:
        """The rows of `sql` (with `?` marks) as a table of `schema`: the statement's columns in
        order, renamed and cast to the schema's names and types."""
        if self._driver is None:
            return _from_rows(await self._db.fetchall(sql, params), schema)
        return await asyncio.to_thread(self._read, sql, params, schema)

    def _read(self, sql: str, params: Sequence[Any], schema: pyarrow.Schema) -> pyarrow.Table:
        with self._lock:
            connection = self._open()
            if self._driver == "sqlite":
                try:
                    return _from_rows(connection.execute(sql, tuple(params)).fetchall(), schema)
                except sqlite3.Error:
                    self._drop()
                    raise
            try:
                cursor = connection.cursor()
                try:
                    cursor.execute(_inlined(sql, params))
                    found = cursor.fetch_arrow_table()
                finally:
                    cursor.close()
            except Exception as exc:
                # The connection may be the broken part (a server restarted): the next read
                # opens another.
                self._drop()
                if _is_outage(exc):
                    raise StoreUnavailable() from exc
                raise
        return pyarrow.table(
            [_typed(found.column(i), f.type) for i, f in enumerate(schema)], schema=schema
        )

    def _open(self) -> Any:
        if self._connection is not None:
            return self._connection
        if self._driver == "sqlite":
            path = self._db.path  # type: ignore[attr-defined]
            # The same library as the store's own connections (see the module's docstring);
            # autocommit, so that no read holds a snapshot (and the log) past its statement.
            self._connection = sqlite3.connect(
                read_only_uri(path),
                uri=True,
                isolation_level=None,
                check_same_thread=False,
                timeout=30,
            )
            return self._connection
        # Imported here: a hub on SQLite never loads the driver.
        import adbc_driver_postgresql.dbapi
        from psycopg.conninfo import make_conninfo

        pg: PostgresDatabase = self._db  # type: ignore[assignment]
        bound_ms = int(pg.statement_timeout * 1000)
        conninfo = make_conninfo(
            pg.dsn or "",
            **connect_options(pg.timeout),
            options=f"-c default_transaction_read_only=on -c statement_timeout={bound_ms}",
        )
        try:
            self._connection = adbc_driver_postgresql.dbapi.connect(conninfo, autocommit=True)
        except Exception as exc:
            if _is_outage(exc):
                raise StoreUnavailable() from exc
            raise
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            # Closing a broken connection may fail too; it is gone either way.
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None

    def close(self) -> None:
        with self._lock:
            self._drop()


def _is_outage(exc: BaseException) -> bool:
    """The PostgreSQL driver's word that the server cannot be reached, as outage.py tells it for
    psycopg: no SQLSTATE (the connection could not be opened, or broke), class 08, or the server
    shutting down; a statement's own error (its timeout included) stays what it is."""
    import adbc_driver_manager

    if not isinstance(exc, adbc_driver_manager.Error):
        return False
    state = getattr(exc, "sqlstate", None)
    return not state or state.startswith("08") or state in SHUTTING_DOWN
