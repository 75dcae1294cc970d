"""The warehouse end to end on a real store (SQLite and PostgreSQL) and DuckDB: pseudonymised,
incremental and resumable extraction, audited; the port's contract; the privacy budget."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import duckdb
import orjson
import pytest

from crossroads.adapters.sql.store import open_store
from crossroads.adapters.warehouse.duckdb import DuckDbWarehouse
from crossroads.domain.errors import Refusal
from crossroads.domain.statistics.marts import MARTS
from crossroads.domain.statistics.pseudonyms import Pseudonymiser
from crossroads.domain.subjects import SubjectHasher
from crossroads.services.clock import Clock
from crossroads.services.ports import Position
from crossroads.services.statistics_extraction import ExtractionBasis, WarehouseExtraction

from .data import add_exchanges, add_wages, decision, inss

pytestmark = pytest.mark.anyio
HASHER = SubjectHasher(b"s" * 32)


@pytest.fixture
async def store(store_url):
    opened = await open_store(store_url)
    yield opened
    await opened.close()


def extraction(store, warehouse, batch=2):
    return WarehouseExtraction(
        store.statistics,
        warehouse,
        store.audit,
        Clock(),
        HASHER,
        Pseudonymiser(b"w" * 32),
        ExtractionBasis("statistics", "Act of 15 January 1990, art. 5"),
        5,
        batch=batch,
    )


async def seed(store):
    for d in range(5):
        await add_wages(store, [(d * 10 + p, 20244, "015", "200", 300_000) for p in range(10)])
    await add_exchanges(store, HASHER, list(range(12)))


async def test_extraction_is_pseudonymised_incremental_resumable_and_audited(store, tmp_path):
    await seed(store)
    path = tmp_path / "w.duckdb"
    warehouse = DuckDbWarehouse(path)
    first = await extraction(store, warehouse).run(max_batches=1)  # cut short, as by a crash
    assert first.records["declarations"] == 20
    await warehouse.close()
    warehouse = DuckDbWarehouse(path)  # reopened: resumes from the committed position
    rest = await extraction(store, warehouse).run()
    assert rest.records["declarations"] == 30
    assert await extraction(store, warehouse).run() is not None  # nothing new: nothing twice
    await add_wages(store, [(999, 20244, "015", "200", 1)])
    again = await extraction(store, warehouse).run()
    assert again.records["declarations"] == 1 and again.records["exchanges"] == 0
    await warehouse.export(tmp_path / "parquet")
    await warehouse.close()

    con = duckdb.connect(str(path), read_only=True)
    # The marts are in the newest snapshot, which the pointer file names.
    snapshots = path.with_name("w.duckdb.marts")
    newest = snapshots / (snapshots / "current").read_text()
    con.execute(f"ATTACH '{newest}' AS marts (READ_ONLY)")
    assert con.execute("SELECT count(*) FROM marts.mart_employment").fetchone() == (51,)
    assert con.execute("SELECT count(*) FROM marts.mart_exchanges").fetchone() == (12,)
    # The same person has the same pseudonym in the wages and in the exchanges, and neither the
    # INSS nor the hub's subject key appears anywhere in the warehouse.
    linked = con.execute(
        "SELECT count(DISTINCT e.person) FROM exchanges e JOIN wages w USING (person)"
    ).fetchone()
    assert linked == (12,)
    dump = "".join(
        str(r)
        for t in ("wages", "exchanges", "marts.mart_employment", "marts.mart_exchanges")
        for r in con.execute(f"FROM {t}").fetchall()
    )
    for p in (0, 7, 999):
        assert inss(p) not in dump and HASHER.hex(inss(p)) not in dump
    # The pseudonym is the one the warehouse key has always given: HMAC of the subject key.
    expected = Pseudonymiser(b"w" * 32).person(HASHER.key(inss(7)))
    assert expected in dump
    parquet = con.execute(f"SELECT count(*) FROM '{tmp_path}/parquet/mart_employment.parquet'")
    assert parquet.fetchone() == (51,)
    con.close()

    records = [orjson.loads(r) for _, r in await store.audit.read(0, 10_000)]
    uses = [r for r in records if r["kind"] == "statistics"]
    assert uses and all(r["detail"]["legal_basis"].startswith("Act of") for r in uses)
    done = [r for r in uses if r["action"] == "extracted" and r["target"] == "declarations"]
    assert sum(r["detail"]["records"] for r in done) == 51


async def test_a_load_that_fails_leaves_neither_rows_nor_position():
    warehouse = DuckDbWarehouse(":memory:")
    good = {"person": ["p"], "seq": [1], "at_ms": [0]}
    with pytest.raises(ValueError):
        await warehouse.load("exchanges", {"exchanges": good, "nowhere": good}, Position(3, 7))
    assert await warehouse.position("exchanges") == Position()
    await warehouse.load("exchanges", {"exchanges": good}, Position(3, 7))
    assert await warehouse.position("exchanges") == Position(3, 7)
    await warehouse.refresh(5)
    cells = await warehouse.cube(MARTS["exchanges"], 5)
    assert any(c.key == (None,) * 5 and c.values[0] == 1 for c in cells)
    await warehouse.close()


async def test_the_privacy_budget_is_durable_and_refused_past_its_limit(store):
    budgets = store.privacy_budgets
    assert await budgets.spend("a:b", "P1", 600_000, 1_000_000, 1) == 600_000
    with pytest.raises(Refusal) as refused:
        await budgets.spend("a:b", "P1", 500_000, 1_000_000, 2)
    assert refused.value.code == "privacy_budget_exhausted"
    assert await budgets.spent("a:b", "P1") == 600_000
    assert await budgets.spend("a:b", "P2", 500_000, 1_000_000, 3) == 500_000


async def test_one_writer_at_a_time_and_every_reader_meanwhile(store, tmp_path):
    await seed(store)
    path = tmp_path / "w.duckdb"
    first, second = DuckDbWarehouse(path), DuckDbWarehouse(path)
    await extraction(store, first, batch=100).run()
    # The first writes again: it holds the file.
    assert await first.position("declarations") > Position()
    with pytest.raises(Refusal) as refused:
        await extraction(store, second).run()
    assert refused.value.code == "warehouse_unavailable"
    # Meanwhile the second answers from the newest snapshot.
    cells = await second.cube(MARTS["exchanges"], 5)
    assert any(c.key == (None,) * 5 and c.values[0] == 12 for c in cells)
    await first.release()
    await add_exchanges(store, HASHER, list(range(20, 25)))
    assert (await extraction(store, second).run()).records["exchanges"] == 5
    cells = await first.cube(MARTS["exchanges"], 5)  # the first reads the second's new snapshot
    assert any(c.key == (None,) * 5 and c.values[0] == 17 for c in cells)
    assert await first.version() == await second.version() == 2
    await first.close()
    await second.close()


@pytest.fixture
def held(tmp_path):
    """A DuckDB file held open by another process until the test ends."""
    path = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    yield path, holder
    if holder.poll() is None:
        holder.stdin.close()
        holder.wait(10)


async def test_a_warehouse_held_by_another_process_is_a_refusal_not_a_crash(held):
    path, holder = held
    warehouse = DuckDbWarehouse(path)
    with pytest.raises(Refusal) as refused:
        await warehouse.position("exchanges")
    assert refused.value.code == "warehouse_unavailable"
    holder.stdin.close()
    await asyncio.to_thread(holder.wait, 10)
    assert await warehouse.position("exchanges") == Position()  # released: opened on the next use
    await warehouse.close()


HOLD = (
    "import sys, duckdb\n"
    "con = duckdb.connect(sys.argv[1])\n"
    "print('holding', flush=True)\n"
    "sys.stdin.read()\n"
)


async def test_a_working_file_that_took_the_rights_whole_reads_them_again_by_their_changes(
    store, tmp_path
):
    """A working file written before the rights were read by their changes holds them without
    change numbers and with no position in their stream: its rights are dropped, and the
    stream reads every decision from the start, each once."""
    path = tmp_path / "w.duckdb"
    old = duckdb.connect(str(path))
    old.execute(
        "CREATE TABLE rights (person VARCHAR, right_code VARCHAR, change VARCHAR,"
        " status VARCHAR, origin VARCHAR, age_group VARCHAR, decided_at_ms BIGINT)"
    )
    old.execute(
        "INSERT INTO rights VALUES ('taken-whole', 'r', 'granted', 'pending', 'change', 'adult', 0)"
    )
    old.close()
    for p in (1, 2):
        await store.rights.add([decision(p)], HASHER.key(decision(p).subject))
    warehouse = DuckDbWarehouse(path)
    report = await extraction(store, warehouse).run()
    await warehouse.close()
    assert report.records["rights"] == 2
    snapshots = path.with_name("w.duckdb.marts")
    con = duckdb.connect(str(snapshots / (snapshots / "current").read_text()), read_only=True)
    try:
        people = con.execute("SELECT person FROM mart_rights ORDER BY ALL").fetchall()
    finally:
        con.close()
    assert len(people) == 2 and ("taken-whole",) not in people
