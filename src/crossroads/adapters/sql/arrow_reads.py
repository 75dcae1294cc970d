"""Query results as Arrow tables: the statistics extraction's bulk reads of the hub's store.

Both stores are read through an ADBC driver, on a read-only connection of its own in a worker
thread (the event loop stays free while millions of rows move): rows go from the database's C
client into Arrow columns without a Python object per value.

- A SQLite file: ADBC's SQLite driver, several times cheaper than the sqlite3 module's tuples.
  The driver infers each column's type from the rows of a batch; one batch holds the whole
  result (`_BATCH_ROWS`), so a column that is NULL in the first rows and text later cannot
  change type midway.
- PostgreSQL: ADBC's PostgreSQL driver (libpq), which reads a query as
  `COPY (query) TO STDOUT (FORMAT binary)` straight into typed Arrow columns. Measured on one
  batch of 200,000 audit records (docs/benchmarks.md): 0.37-0.41 s and 0.06-0.08 CPU-s, where
  the pool's rows then columns took 1.4-3.7 s, psycopg's `COPY … (FORMAT csv)` read by
  pyarrow's CSV reader 1.1-1.6 s, and psycopg's binary COPY as rows 2.2-3.6 s. Bind parameters
  would make the driver prepare the statement and read it without COPY (twice as slow, or
  worse), so the statement's marks are replaced by the integers they stand for (`_inlined`):
  every read of the extraction is bounded by positions and counts, never by a text value. The
  session is read-only and each statement bounded by the store's statement timeout; connecting
  is bounded like the store's pool (outage.py).

A SQLite database in memory (which another connection cannot open) is read through the store's
own connection, rows then columns: the same tables, slower.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import pyarrow

from ...services.ports import StoreUnavailable
from .database import Database, PostgresDatabase, SQLiteDatabase
from .outage import SHUTTING_DOWN, connect_options

_BATCH_ROWS = 1 << 24


def _typed(column: pyarrow.ChunkedArray, wanted: pyarrow.DataType) -> pyarrow.ChunkedArray:
    # A column with no value at all (or no row) has no type to infer: the driver says int64.
    if column.null_count == len(column):
        return pyarrow.chunked_array([pyarrow.nulls(len(column), wanted)])
    return column.cast(wanted)


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
            rows = await self._db.fetchall(sql, params)
            columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
            return pyarrow.table(
                [pyarrow.array(values, f.type) for values, f in zip(columns, schema, strict=True)],
                schema=schema,
            )
        return await asyncio.to_thread(self._read, sql, params, schema)

    def _read(self, sql: str, params: Sequence[Any], schema: pyarrow.Schema) -> pyarrow.Table:
        with self._lock:
            connection = self._open()
            try:
                cursor = connection.cursor()
                try:
                    if self._driver == "sqlite":
                        cursor.adbc_statement.set_options(
                            **{"adbc.sqlite.query.batch_rows": str(_BATCH_ROWS)}
                        )
                        cursor.execute(sql, tuple(params))
                    else:
                        cursor.execute(_inlined(sql, params))
                    found = cursor.fetch_arrow_table()
                finally:
                    cursor.close()
            except Exception as exc:
                # The connection may be the broken part (a server restarted): the next read
                # opens another.
                self._drop()
                if self._driver == "postgresql" and _is_outage(exc):
                    raise StoreUnavailable() from exc
                raise
        return pyarrow.table(
            [_typed(found.column(i), f.type) for i, f in enumerate(schema)], schema=schema
        )

    def _open(self) -> Any:
        if self._connection is not None:
            return self._connection
        # Imported here: each hub reads through one of the two drivers only.
        if self._driver == "sqlite":
            import adbc_driver_sqlite.dbapi

            path = self._db.path  # type: ignore[attr-defined]
            self._connection = adbc_driver_sqlite.dbapi.connect(
                f"file:{quote(path)}?mode=ro", autocommit=True
            )
            return self._connection
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
