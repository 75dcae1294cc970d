"""The warehouse in DuckDB, embedded: columnar and parallel, nothing to install.

Two kinds of file (snapshots.py): the working file of extracts and positions, written by one
process at a time (an extraction takes `<file>.lock` and gives it back when done: `release`);
and the marts' snapshots, read-only, which every hub process answers analysts from. With
":memory:" (tests, benchmarks) one connection holds everything, marts included. Each call runs
in a worker thread, off the event loop: writes under one lock, reads under another, so
analysts are answered during an extraction. Rows arrive as columns and go in through Arrow, in
bulk, never row by row.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow
import pyarrow.compute

from ...domain.errors import Refusal
from ...domain.statistics.marts import MARTS, Mart
from ...domain.statistics.suppression import CubeCell, Decided, Key
from ...services.ports import Coded, Columns, Position, Warehouse
from . import lattices
from .marts_sql import EXTRACTS, SOURCES, materialise
from .snapshots import Snapshots, open_snapshot, quoted, write_snapshot


def _length(column: Any) -> int:
    return len(column.codes) if isinstance(column, Coded) else len(column)


def _arrow(column: Any) -> Any:
    if isinstance(column, Coded):
        return pyarrow.compute.take(pyarrow.array(column.values, pyarrow.string()), column.codes)
    return column


def _drop_extract_read_whole(con: duckdb.DuckDBPyConnection, stream: str) -> None:
    """A working file written before a stream was read by its changes holds its extract
    without the change numbers: the rights as the last extraction took them whole (no position
    in their stream), the deliveries as they were when first settled (a position in the
    outbox's order). Dropped with the stream's position, the stream reads every row again
    from the start into the new table, once."""
    found = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_catalog = current_database() AND table_name = ?",
            (stream,),
        ).fetchall()
    }
    if not found or "changed" in found:
        return
    con.execute("BEGIN TRANSACTION")  # the table and its position go together, or neither
    try:
        con.execute(f"DROP TABLE {stream}")
        con.execute(
            "CREATE TABLE IF NOT EXISTS positions (stream VARCHAR PRIMARY KEY, position BIGINT)"
        )
        con.execute("DELETE FROM positions WHERE stream = ?", (stream,))
        # Its mart is rebuilt from the stream's rows, at the end of the run.
        con.execute("CREATE TABLE IF NOT EXISTS stale (extract VARCHAR PRIMARY KEY)")
        con.execute("INSERT OR IGNORE INTO stale VALUES (?)", (stream,))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


class DuckDbWarehouse(Warehouse):
    def __init__(self, path: Path | str, threads: int | None = None) -> None:
        """`path` is the working file (":memory:" for a warehouse that lives as long as this
        object: tests and benchmarks)."""
        self._memory = str(path) == ":memory:"
        self._path = Path(path)
        self._threads = threads
        self._snapshots = None if self._memory else Snapshots(self._path)
        self._write_lock = asyncio.Lock()
        # In memory one connection serves both, and a DuckDB connection is used by one thread
        # at a time.
        self._read_lock = self._write_lock if self._memory else asyncio.Lock()
        self._writer: duckdb.DuckDBPyConnection | None = None
        self._lock_file: int | None = None
        self._reader: duckdb.DuckDBPyConnection | None = None
        self._reading: tuple[int, Path] | None = None

    # The writer: the working file, held between the first write and `release`.

    def _con(self) -> duckdb.DuckDBPyConnection:
        if self._writer is None:
            self._writer = self._open_writer()
        return self._writer

    def _open_writer(self) -> duckdb.DuckDBPyConnection:
        if not self._memory:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            held = os.open(f"{self._path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
                con = duckdb.connect(str(self._path))
            except (BlockingIOError, duckdb.IOException) as exc:
                os.close(held)
                raise Refusal(
                    "warehouse_unavailable",
                    "another process is extracting into the statistics warehouse"
                    f" ({str(exc)[:200]}); try again when it is done.",
                ) from None
            self._lock_file = held
        else:
            con = duckdb.connect(":memory:")
        if self._threads:
            con.execute(f"SET threads = {int(self._threads)}")
        for stream in ("rights", "deliveries"):
            _drop_extract_read_whole(con, stream)
        for table, columns in EXTRACTS.items():
            con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
        con.execute(
            "CREATE TABLE IF NOT EXISTS positions (stream VARCHAR PRIMARY KEY, position BIGINT)"
        )
        # The transaction of the position's row (ports.Position), added to working files
        # written before it: their positions were numbers in commit order, transaction 0.
        con.execute("ALTER TABLE positions ADD COLUMN IF NOT EXISTS xact BIGINT DEFAULT 0")
        # The extracts loaded since their marts were last built (durable: a run that crashed
        # before rebuilding leaves them for the next).
        con.execute("CREATE TABLE IF NOT EXISTS stale (extract VARCHAR PRIMARY KEY)")
        con.execute("CREATE TABLE IF NOT EXISTS generation (n BIGINT)")
        if con.execute("SELECT count(*) FROM generation").fetchone() == (0,):
            con.execute("INSERT INTO generation VALUES (0)")
        if self._memory:
            for name in MARTS:
                con.execute(materialise(name))
        return con

    async def _write(self, work) -> Any:
        async with self._write_lock:
            return await asyncio.to_thread(work)

    async def position(self, stream: str) -> Position:
        def read() -> Position:
            row = (
                self._con()
                .execute("SELECT xact, position FROM positions WHERE stream = ?", (stream,))
                .fetchone()
            )
            return Position(row[0] or 0, row[1]) if row else Position()

        return await self._write(read)

    def _insert(self, table: str, columns: Columns) -> None:
        if not columns or not _length(next(iter(columns.values()))):
            return
        arrow = pyarrow.table({name: _arrow(values) for name, values in columns.items()})
        con = self._con()
        con.register("incoming", arrow)
        try:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
        finally:
            con.unregister("incoming")
        con.execute("INSERT OR IGNORE INTO stale VALUES (?)", (table,))

    def _transaction(self, work) -> None:
        con = self._con()
        con.execute("BEGIN TRANSACTION")
        try:
            work(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    async def load(self, stream: str, tables: dict[str, Columns], position: Position) -> None:
        def work(con: duckdb.DuckDBPyConnection) -> None:
            for table, columns in tables.items():
                if table not in EXTRACTS:
                    raise ValueError(f"no extract table {table!r}")
                self._insert(table, columns)
            con.execute(
                "INSERT OR REPLACE INTO positions (stream, position, xact) VALUES (?, ?, ?)",
                (stream, position.number, position.transaction),
            )

        await self._write(lambda: self._transaction(work))

    async def replace(self, table: str, columns: Columns) -> None:
        def work(con: duckdb.DuckDBPyConnection) -> None:
            con.execute(f"DELETE FROM {table}")
            con.execute("INSERT OR IGNORE INTO stale VALUES (?)", (table,))
            self._insert(table, columns)

        if table not in EXTRACTS:
            raise ValueError(f"no extract table {table!r}")
        await self._write(lambda: self._transaction(work))

    async def refresh(self, threshold: int) -> float:
        return await self._write(lambda: self._refresh(threshold))

    def _refresh(self, threshold: int) -> float:
        con = self._con()
        stale = {row[0] for row in con.execute("SELECT extract FROM stale").fetchall()}
        rebuilt = [name for name in MARTS if SOURCES[name] in stale]
        first = self._snapshots is not None and self._snapshots.current() is None
        if not rebuilt and not first:
            return 0.0  # the marts stand as they are: no new snapshot, no new generation
        generation = con.execute("SELECT n FROM generation").fetchone()[0] + 1
        if self._snapshots is None:
            for name in rebuilt:
                con.execute(materialise(name))
            stored = lattices.read_thresholds(con)
            again = {n for n in MARTS if n in rebuilt or stored.get(n) != threshold}
            seconds = lattices.decide_all(con, "", again, threshold)
        else:
            seconds = write_snapshot(con, self._snapshots, generation, set(rebuilt), threshold)

        def settled(c: duckdb.DuckDBPyConnection) -> None:
            c.execute("DELETE FROM stale")
            c.execute("UPDATE generation SET n = ?", (generation,))

        self._transaction(settled)
        return seconds

    async def export(self, folder: Path) -> list[Path]:
        written: list[Path] = []

        def copy(con: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
            folder.mkdir(parents=True, exist_ok=True)
            for name in tables:
                target = folder / f"{name}.parquet"
                con.execute(f"COPY {name} TO {quoted(target)} (FORMAT parquet)")
                written.append(target)

        await self._write(lambda: copy(self._con(), list(EXTRACTS)))
        await self._read(lambda con: copy(con, [f"mart_{m}" for m in MARTS]))
        return written

    async def release(self) -> None:
        def work() -> None:
            if self._writer is not None and not self._memory:
                self._writer.close()
                self._writer = None
                if self._lock_file is not None:
                    os.close(self._lock_file)  # closing the descriptor drops the flock
                    self._lock_file = None

        await self._write(work)

    # The readers: the newest snapshot, read-only, in any process.

    def _read_connection(self) -> duckdb.DuckDBPyConnection:
        if self._snapshots is None:
            return self._con()
        newest = self._snapshots.current()
        if self._reader is None or newest != self._reading:
            if self._reader is not None:
                self._reader.close()
            self._reader = open_snapshot(newest[1] if newest else None)
            if self._threads:
                self._reader.execute(f"SET threads = {int(self._threads)}")
            self._reading = newest
        return self._reader

    async def _read(self, work) -> Any:
        async with self._read_lock:
            return await asyncio.to_thread(lambda: work(self._read_connection()))

    async def version(self) -> int:
        if self._snapshots is None:
            return await self._read(
                lambda con: con.execute("SELECT n FROM generation").fetchone()[0]
            )
        newest = self._snapshots.current()
        return newest[0] if newest else 0

    async def marts_positions(self) -> dict[str, int]:
        rows = await self._read(
            lambda con: con.execute("SELECT stream, position FROM positions").fetchall()
        )
        return {stream: position for stream, position in rows}

    async def cube(self, mart: Mart, threshold: int) -> list[CubeCell]:
        return await self._read(
            lambda con: lattices.cube(con, mart, f"mart_{mart.name}", threshold)
        )

    async def lattice(self, mart: Mart) -> tuple[int, dict[Key, Decided]] | None:
        return await self._read(lambda con: lattices.read(con, mart))

    async def aggregate(
        self, mart: Mart, measure: str | None, filters: dict[str, str], contributions: int
    ) -> tuple[int, int]:
        mart.check_dimensions(list(filters), "filters")
        where = "".join(f" AND {name} = ?" for name in filters)
        clamped = "0"
        if measure is not None:
            upper = mart.measure(measure).upper
            clamped = f"coalesce(sum(least(greatest({measure}, 0), {upper})), 0)::BIGINT"
        sql = f"SELECT count(*), {clamped} FROM mart_{mart.name} WHERE contribution <= ?{where}"
        params = [contributions, *filters.values()]
        row = await self._read(lambda con: con.execute(sql, params).fetchone())
        return int(row[0]), int(row[1])

    async def close(self) -> None:
        await self.release()
        async with self._read_lock:
            if self._reader is not None:
                await asyncio.to_thread(self._reader.close)
                self._reader = None
        if self._memory and self._writer is not None:
            await asyncio.to_thread(self._writer.close)
            self._writer = None
