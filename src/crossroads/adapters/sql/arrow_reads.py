"""Query results as Arrow tables: the statistics extraction's bulk reads of the hub's store.

A SQLite file is read through ADBC's SQLite driver, on a read-only connection of its own in a
worker thread (the event loop stays free while millions of rows move): rows go from SQLite's C
API into Arrow columns without a Python object per value, several times cheaper than the
sqlite3 module's tuples. The driver infers each column's type from the rows of a batch; one
batch holds the whole result (`_BATCH_ROWS`), so a column that is NULL in the first rows and
text later cannot change type midway. PostgreSQL (and a SQLite database in memory, which
another connection cannot open) is read through the store's own connection, rows then columns:
the same tables, slower.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import pyarrow

from .database import Database, SQLiteDatabase

_BATCH_ROWS = 1 << 24


def _typed(column: pyarrow.ChunkedArray, wanted: pyarrow.DataType) -> pyarrow.ChunkedArray:
    # A column with no value at all (or no row) has no type to infer: the driver says int64.
    if column.null_count == len(column):
        return pyarrow.chunked_array([pyarrow.nulls(len(column), wanted)])
    return column.cast(wanted)


class ArrowReads:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._file = db.path if isinstance(db, SQLiteDatabase) and db.path != ":memory:" else None
        self._connection: Any = None
        self._lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self._db.dialect

    async def table(self, sql: str, params: Sequence[Any], schema: pyarrow.Schema) -> pyarrow.Table:
        """The rows of `sql` (with `?` marks) as a table of `schema`: the statement's columns in
        order, renamed and cast to the schema's names and types."""
        if self._file is None:
            rows = await self._db.fetchall(sql, params)
            columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
            return pyarrow.table(
                [pyarrow.array(values, f.type) for values, f in zip(columns, schema, strict=True)],
                schema=schema,
            )
        return await asyncio.to_thread(self._read_file, sql, params, schema)

    def _read_file(self, sql: str, params: Sequence[Any], schema: pyarrow.Schema) -> pyarrow.Table:
        with self._lock:
            cursor = self._open().cursor()
            try:
                cursor.adbc_statement.set_options(
                    **{"adbc.sqlite.query.batch_rows": str(_BATCH_ROWS)}
                )
                cursor.execute(sql, tuple(params))
                found = cursor.fetch_arrow_table()
            finally:
                cursor.close()
        return pyarrow.table(
            [_typed(found.column(i), f.type) for i, f in enumerate(schema)], schema=schema
        )

    def _open(self) -> Any:
        if self._connection is None:
            # Imported here: only a hub on a SQLite file reads through ADBC.
            import adbc_driver_sqlite.dbapi

            self._connection = adbc_driver_sqlite.dbapi.connect(
                f"file:{quote(self._file)}?mode=ro", autocommit=True
            )
        return self._connection

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
