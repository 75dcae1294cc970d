"""The warehouse in DuckDB, embedded: one file, nothing to install, columnar and parallel.

DuckDB opens its file for one process at a time: the hub that serves the analysts holds it once
asked, and then `crossroads statistics extract --hub URL` asks that hub (POST
/admin/statistics/extract) instead of opening the file itself. Every call runs in a worker
thread under one lock, off the event loop. Rows arrive as columns and go in through Arrow, in
bulk, never row by row.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import duckdb
import pyarrow

from ...domain.errors import Refusal
from ...domain.statistics.marts import MARTS, Mart
from ...domain.statistics.suppression import CubeCell
from ...services.ports import Columns, Warehouse
from .marts_sql import EXTRACTS, materialise


class DuckDbWarehouse(Warehouse):
    def __init__(self, path: Path | str, threads: int | None = None) -> None:
        """`path` is the DuckDB file (":memory:" for a warehouse that lives as long as this
        object: tests and benchmarks)."""
        self._path = str(path)
        self._threads = threads
        self._lock = asyncio.Lock()
        self._opened: duckdb.DuckDBPyConnection | None = None

    @property
    def _con(self) -> duckdb.DuckDBPyConnection:
        # Opened on first use, not when the hub is built: each of several hub worker processes
        # builds a hub, and only the one that is asked holds DuckDB's lock on the file.
        if self._opened is None:
            self._opened = self._open()
        return self._opened

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(self._path)
        except duckdb.IOException as exc:  # another process holds the file's lock
            raise Refusal(
                "warehouse_unavailable",
                f"the statistics warehouse is held by another process ({str(exc)[:200]}).",
            ) from None
        if self._threads:
            con.execute(f"SET threads = {int(self._threads)}")
        for table, columns in EXTRACTS.items():
            con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
        con.execute(
            "CREATE TABLE IF NOT EXISTS positions (stream VARCHAR PRIMARY KEY, position BIGINT)"
        )
        con.execute("CREATE TABLE IF NOT EXISTS generation (n BIGINT)")
        if con.execute("SELECT count(*) FROM generation").fetchone() == (0,):
            con.execute("INSERT INTO generation VALUES (0)")
        for name in MARTS:
            found = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                (f"mart_{name}",),
            ).fetchone()
            if not (found and found[0]):
                con.execute(materialise(name))
        return con

    async def _run(self, work) -> Any:
        async with self._lock:
            return await asyncio.to_thread(work)

    async def position(self, stream: str) -> int:
        def read() -> int:
            row = self._con.execute(
                "SELECT position FROM positions WHERE stream = ?", (stream,)
            ).fetchone()
            return row[0] if row else 0

        return await self._run(read)

    def _insert(self, table: str, columns: Columns) -> None:
        if not columns or not next(iter(columns.values())):
            return
        arrow = pyarrow.table(columns)
        self._con.register("incoming", arrow)
        try:
            self._con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
        finally:
            self._con.unregister("incoming")

    async def load(self, stream: str, tables: dict[str, Columns], position: int) -> None:
        def work() -> None:
            self._con.execute("BEGIN TRANSACTION")
            try:
                for table, columns in tables.items():
                    if table not in EXTRACTS:
                        raise ValueError(f"no extract table {table!r}")
                    self._insert(table, columns)
                self._con.execute(
                    "INSERT OR REPLACE INTO positions VALUES (?, ?)", (stream, position)
                )
                self._con.execute("UPDATE generation SET n = n + 1")
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise

        await self._run(work)

    async def replace(self, table: str, columns: Columns) -> None:
        def work() -> None:
            self._con.execute("BEGIN TRANSACTION")
            try:
                self._con.execute(f"DELETE FROM {table}")
                self._insert(table, columns)
                self._con.execute("UPDATE generation SET n = n + 1")
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise

        if table not in EXTRACTS:
            raise ValueError(f"no extract table {table!r}")
        await self._run(work)

    async def refresh(self) -> None:
        def work() -> None:
            self._con.execute("BEGIN TRANSACTION")
            try:
                for name in MARTS:
                    self._con.execute(materialise(name))
                self._con.execute("UPDATE generation SET n = n + 1")
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise

        await self._run(work)

    async def version(self) -> int:
        return await self._run(lambda: self._con.execute("SELECT n FROM generation").fetchone()[0])

    async def cube(self, mart: Mart) -> list[CubeCell]:
        dims = ", ".join(mart.dimensions)
        sums = "".join(f", coalesce(sum({m.name}), 0)::BIGINT" for m in mart.measures)
        sql = (
            f"SELECT {dims}, count(DISTINCT person), count(*){sums} FROM mart_{mart.name}"
            f" GROUP BY CUBE ({dims})"
        )
        n = len(mart.dimensions)

        def work() -> list[CubeCell]:
            rows = self._con.execute(sql).fetchall()
            return [CubeCell(tuple(r[:n]), r[n], tuple(int(v) for v in r[n + 1 :])) for r in rows]

        return await self._run(work)

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
        row = await self._run(lambda: self._con.execute(sql, params).fetchone())
        return int(row[0]), int(row[1])

    async def export(self, folder: Path) -> list[Path]:
        written = []

        def work() -> None:
            folder.mkdir(parents=True, exist_ok=True)
            for name in [*EXTRACTS, *(f"mart_{m}" for m in MARTS)]:
                target = folder / f"{name}.parquet"
                quoted = str(target).replace("'", "''")
                self._con.execute(f"COPY {name} TO '{quoted}' (FORMAT parquet)")
                written.append(target)

        await self._run(work)
        return written

    async def close(self) -> None:
        if self._opened is not None:
            await self._run(self._opened.close)
            self._opened = None
