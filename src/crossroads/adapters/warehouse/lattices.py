"""A mart's suppression lattice in DuckDB: its cells counted cheaply, then decided and stored.

Counting distinct persons in every grouping (`GROUP BY CUBE` with `count(DISTINCT person)`)
costs one hash of every row per grouping: 32 passes over 5 M rows for the exchanges mart, 177
to 278 s on the shared 2-core machine. Only the suppression rule needs persons at coarser levels,
and only whether they are below the threshold, so:

- the finest cells are counted once (distinct persons, units, measures), in two plain GROUP BYs;
- units and measures add up, so every coarser cell is a CUBE over those few finest cells;
- a coarser cell above a finest cell of `threshold` persons or more holds at least that many:
  its count is that lower bound, and the decision is the same as with the exact one;
- the other coarser cells lie over small finest cells only, so their rows are those of the
  small finest cells: their distinct persons are counted exactly over those few rows (a cell
  missing there would count as one person, suppressed: the error fails closed).

The primary cells are therefore exactly those of the full CUBE, and `decide` gets the finest
cells' exact persons it orders complements by: the same decision, bit for bit
(tests/statistics/test_lattices.py). It is taken once per snapshot by the extraction that
writes it and stored in it (`lattice_<mart>`, with the threshold in `lattices`), so that every
hub process reads the decision instead of taking it again.
"""

from __future__ import annotations

import time
from typing import Any

import duckdb
import pyarrow

from ...domain.statistics.marts import MARTS, Mart
from ...domain.statistics.suppression import CubeCell, Decided, Key, decide


def cube_sql(mart: Mart, table: str, threshold: int) -> str:
    """Every cell of the lattice: its key, its persons (exact below `threshold`, else a lower
    bound at or above it), its units and the sum of each measure."""
    dims = ", ".join(mart.dimensions)
    names = [m.name for m in mart.measures]
    per_person = "".join(f", sum({m}) AS {m}" for m in names)
    per_cell = "".join(f", coalesce(sum({m}), 0)::BIGINT AS {m}" for m in names)
    joined = " AND ".join(f"r.{d} IS NOT DISTINCT FROM s.{d}" for d in mart.dimensions)
    tied = " AND ".join(f"t.{d} IS NOT DISTINCT FROM f.{d}" for d in mart.dimensions)
    measures = "".join(f", r.{m}" for m in names)
    return f"""
        WITH finest AS (
            SELECT {dims}, count(*) AS persons, sum(units)::BIGINT AS units{per_cell}
            FROM (SELECT {dims}, person, count(*) AS units{per_person}
                  FROM {table} GROUP BY {dims}, person)
            GROUP BY {dims}
        ), rolled AS (
            SELECT {dims}, max(persons) AS top, coalesce(sum(units), 0)::BIGINT AS units{per_cell}
            FROM finest GROUP BY CUBE ({dims})
        ), small AS (
            SELECT {dims}, count(DISTINCT person) AS persons
            FROM {table} t SEMI JOIN (SELECT {dims} FROM finest WHERE persons < {int(threshold)}) f
                ON {tied}
            GROUP BY CUBE ({dims})
        )
        SELECT {", ".join(f"r.{d}" for d in mart.dimensions)},
               CASE WHEN r.top >= {int(threshold)} THEN r.top
                    ELSE coalesce(s.persons, least(r.units, 1)) END,
               r.units{measures}
        FROM rolled r LEFT JOIN small s ON {joined}
    """


def cube(con: duckdb.DuckDBPyConnection, mart: Mart, table: str, threshold: int) -> list[CubeCell]:
    n = len(mart.dimensions)
    rows = con.execute(cube_sql(mart, table, threshold)).fetchall()
    return [CubeCell(tuple(r[:n]), int(r[n]), tuple(int(v) for v in r[n + 1 :])) for r in rows]


def store(
    con: duckdb.DuckDBPyConnection, mart: Mart, schema: str, decided: dict[Key, Decided]
) -> None:
    """Write the decision as `<schema>lattice_<mart>`: the key (NULL: summed), the cell's status
    (`cell_status`), and the values (NULL when suppressed)."""
    cells = list(decided.values())
    columns: dict[str, Any] = {
        d: pyarrow.array([c.key[i] for c in cells], pyarrow.string())
        for i, d in enumerate(mart.dimensions)
    }
    # Not "status": a mart may have a dimension of that name (jobs, rights), which it would
    # replace, and the stored lattice would lose that dimension's column.
    columns["cell_status"] = pyarrow.array([c.status for c in cells], pyarrow.string())
    for j, name in enumerate(("units", *(m.name for m in mart.measures))):
        values = [None if c.values is None else c.values[j] for c in cells]
        columns[f"value_{name}"] = pyarrow.array(values, pyarrow.int64())
    con.register("decided_cells", pyarrow.table(columns))
    try:
        con.execute(f"CREATE OR REPLACE TABLE {schema}lattice_{mart.name} AS FROM decided_cells")
    finally:
        con.unregister("decided_cells")


def decide_all(
    con: duckdb.DuckDBPyConnection, schema: str, names: set[str], threshold: int
) -> float:
    """Decide and store the lattice of each mart in `names` from `<schema>mart_<name>`, and
    record the threshold; the seconds it took."""
    started = time.perf_counter()
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {schema}lattices (mart VARCHAR PRIMARY KEY, threshold BIGINT)"
    )
    for name in sorted(names):
        mart = MARTS[name]
        cells = cube(con, mart, f"{schema}mart_{name}", threshold)
        store(con, mart, schema, decide(cells, len(mart.dimensions), threshold))
        con.execute(f"INSERT OR REPLACE INTO {schema}lattices VALUES (?, ?)", (name, threshold))
    return time.perf_counter() - started


def read_thresholds(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """The threshold each stored lattice was decided at, by mart (none stored: empty)."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'lattices'"
        " AND database_name = current_database()"
    ).fetchone()
    if not found or not found[0]:
        return {}
    return {name: int(t) for name, t in con.execute("FROM lattices").fetchall()}


def read(con: duckdb.DuckDBPyConnection, mart: Mart) -> tuple[int, dict[Key, Decided]] | None:
    """The stored decision and the threshold it was taken at; None when there is none."""
    threshold = read_thresholds(con).get(mart.name)
    if threshold is None:
        return None
    n = len(mart.dimensions)
    decided: dict[Key, Decided] = {}
    for r in con.execute(f"FROM lattice_{mart.name}").fetchall():
        key: Key = tuple(r[:n])
        values = None if r[n + 1] is None else tuple(int(v) for v in r[n + 1 :])
        decided[key] = Decided(key, values, r[n])
    return threshold, decided
