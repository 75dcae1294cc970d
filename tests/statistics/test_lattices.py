"""The suppression lattice decided once, at extraction, from cheaply counted cells: the same
decision as from the full `GROUP BY CUBE` with distinct persons, stored in the snapshot that
every process reads, and still proof against the margin attack when read back from it."""

from __future__ import annotations

import random

import duckdb
import pytest

from crossroads.adapters.sql.store import open_store
from crossroads.adapters.warehouse import lattices
from crossroads.adapters.warehouse.duckdb import DuckDbWarehouse
from crossroads.domain.statistics.marts import MARTS
from crossroads.domain.statistics.suppression import CubeCell, decide
from crossroads.services.clock import Clock
from crossroads.services.statistics_queries import AnalystQuery, Protection, StatisticsQueries

from .data import add_exchanges, add_wages
from .test_suppression import recoverable
from .test_warehouse import HASHER, extraction

THRESHOLD = 5
EXCHANGES = MARTS["exchanges"]
EMPLOYMENT = MARTS["employment"]


def exchanges_mart(rng: random.Random, rows: int, persons: int) -> duckdb.DuckDBPyConnection:
    """An exchanges mart of `rows` units: persons seen in several cells and several times in
    one, many cells below the threshold, some margins made only of small cells."""
    con = duckdb.connect(":memory:")
    units = []
    for _ in range(rows):
        person = rng.randrange(persons)
        units.append(
            (
                f"p{person}",
                rng.choice(["2025-01", "2025-02"]),
                rng.choice(["identity", "wages", "rare"]) if person % 7 else "rare",
                rng.choice(["0411", "0422", "0433"]),
                "benefits" if person % 11 else f"audit-{person % 3}",
                rng.choice(["ok", "ok", "ok", "refused"]),
                rng.randrange(0, 60_000),
            )
        )
    con.execute(
        "CREATE TABLE mart_exchanges (person VARCHAR, month VARCHAR, service VARCHAR,"
        " consumer VARCHAR, purpose VARCHAR, outcome VARCHAR, latency_ms BIGINT)"
    )
    con.executemany("INSERT INTO mart_exchanges VALUES (?, ?, ?, ?, ?, ?, ?)", units)
    return con


def full_cube(con: duckdb.DuckDBPyConnection) -> list[CubeCell]:
    dims = ", ".join(EXCHANGES.dimensions)
    rows = con.execute(
        f"SELECT {dims}, count(DISTINCT person), count(*), coalesce(sum(latency_ms), 0)::BIGINT"
        f" FROM mart_exchanges GROUP BY CUBE ({dims})"
    ).fetchall()
    return [CubeCell(tuple(r[:5]), r[5], (r[6], r[7])) for r in rows]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_cheap_cube_decides_exactly_as_the_full_cube(seed):
    con = exchanges_mart(random.Random(seed), rows=900, persons=260)
    full = {c.key: c for c in full_cube(con)}
    cheap = {c.key: c for c in lattices.cube(con, EXCHANGES, "mart_exchanges", THRESHOLD)}
    assert cheap.keys() == full.keys()
    small = 0
    for key, cell in full.items():
        assert cheap[key].values == cell.values
        if cell.persons < THRESHOLD:
            small += 1
            assert cheap[key].persons == cell.persons  # exact where the rule needs it
        else:
            assert THRESHOLD <= cheap[key].persons <= cell.persons
    assert small > 20, "the data must hold small cells at several levels to prove anything"
    assert decide(list(cheap.values()), 5, THRESHOLD) == decide(list(full.values()), 5, THRESHOLD)


def test_the_stored_lattice_withstands_the_margin_attack():
    # One unit per person, so that a cell's units are its persons: the attacker of
    # test_suppression solves every released figure read back from the stored decision.
    rng = random.Random(20)
    finest = {
        (q, jc, code): rng.choice([1, 2, 3, 8, 12, 40])
        for q in ("2024Q1", "2024Q2", "2024Q3")
        for jc in ("100", "200", "300", "302")
        for code in ("015", "495")
    }
    con = duckdb.connect(":memory:")
    con.execute(
        "CREATE TABLE mart_employment (person VARCHAR, quarter VARCHAR, joint_committee VARCHAR,"
        " worker_code VARCHAR, gross BIGINT, days BIGINT)"
    )
    units = [
        (f"{key}-{i}", *key, 300_000, 60) for key, count in finest.items() for i in range(count)
    ]
    con.executemany("INSERT INTO mart_employment VALUES (?, ?, ?, ?, ?, ?)", units)
    lattices.decide_all(con, "", {"employment"}, THRESHOLD)
    threshold, decided = lattices.read(con, EMPLOYMENT)
    assert threshold == THRESHOLD
    assert recoverable(finest, decided) == {}
    for key, cell in decided.items():  # no small cell at any level is released
        persons = sum(
            v for k, v in finest.items() if all(a in (None, b) for a, b in zip(key, k, strict=True))
        )
        assert persons >= THRESHOLD or cell.values is None
    assert sum(1 for d in decided.values() if d.values is not None) >= 10


def test_a_mart_with_a_status_dimension_reads_back_what_was_decided():
    # jobs and rights have a dimension named "status", beside the cell's own status.
    con = duckdb.connect(":memory:")
    con.execute(
        "CREATE TABLE mart_jobs (person VARCHAR, start_quarter VARCHAR, worker_type VARCHAR,"
        " joint_committee VARCHAR, status VARCHAR)"
    )
    units = [(f"p{i}", "2025Q1", "STU", "200", "open" if i < 9 else "closed") for i in range(11)]
    con.executemany("INSERT INTO mart_jobs VALUES (?, ?, ?, ?, ?)", units)
    lattices.decide_all(con, "", {"jobs"}, THRESHOLD)
    threshold, decided = lattices.read(con, MARTS["jobs"])
    assert threshold == THRESHOLD
    cells = lattices.cube(con, MARTS["jobs"], "mart_jobs", THRESHOLD)
    assert decided == decide(cells, 4, THRESHOLD)
    assert decided[("2025Q1", "STU", "200", "open")].values == (9,)
    assert decided[("2025Q1", "STU", "200", "closed")].values is None  # 2 persons


@pytest.fixture
async def store(store_url):
    opened = await open_store(store_url)
    yield opened
    await opened.close()


def analysts(warehouse, threshold=THRESHOLD):
    protection = Protection(threshold, 10.0, 1.0, 10)
    return StatisticsQueries(warehouse, None, None, None, None, Clock(), protection)


@pytest.mark.anyio
async def test_the_extraction_decides_the_lattice_once_and_every_reader_reads_it(store, tmp_path):
    for d in range(3):
        await add_wages(store, [(d * 10 + p, 20244, "015", "200", 300_000) for p in range(10)])
    await add_wages(store, [(900, 20244, "495", "200", 100_000)])  # one person: suppressed
    await add_exchanges(store, HASHER, list(range(12)))
    path = tmp_path / "w.duckdb"
    writer = DuckDbWarehouse(path)
    report = await extraction(store, writer, batch=100).run()
    assert report.lattice_seconds > 0
    # Another process: it reads the stored decision, the one the full cube gives.
    reader = DuckDbWarehouse(path)
    threshold, stored = await reader.lattice(EMPLOYMENT)
    assert threshold == THRESHOLD
    cells = await reader.cube(EMPLOYMENT, THRESHOLD)
    assert stored == decide(cells, 3, THRESHOLD)
    assert stored[("2024Q4", "200", "495")].status == "primary"
    answer = await analysts(reader).suppressed(
        EMPLOYMENT, AnalystQuery("employment", group_by=("worker_code",))
    )
    assert {c["worker_code"]: c["suppressed"] for c in answer["cells"]}["495"] is True

    # New exchanges only: the exchanges lattice is decided again, the employment one copied.
    await add_exchanges(store, HASHER, list(range(40, 60)), outcome="refused")
    await extraction(store, writer, batch=100).run()
    again = await reader.lattice(EMPLOYMENT)
    assert again == (THRESHOLD, stored)
    _, exchanges = await reader.lattice(EXCHANGES)
    assert exchanges[(None,) * 5].values[0] == 32

    # A process whose threshold differs from the extraction's decides for itself: 31 persons
    # in all, so at 40 every cell is small.
    assert any(cell.values is not None for cell in stored.values())
    strict = await analysts(reader, threshold=40).lattice(EMPLOYMENT)
    assert strict.keys() == stored.keys()
    assert {cell.status for cell in strict.values()} == {"primary"}
    await reader.close()
    await writer.close()
