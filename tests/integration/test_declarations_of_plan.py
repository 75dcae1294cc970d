"""An institution's declaration list (the employer's page in the portal) walks its index, on both
stores: an equality on `declarant_institution` (migration 0024) along (declarant_institution, id),
newest first, with no sort and no scan of the table. The `declarant LIKE 'institution:%'` it
replaced used no index: SQLite walked the table backwards from the newest declaration until it
had a page, PostgreSQL scanned it whole and sorted, 50 to 77 ms a page at 200,000 declarations
for an institution that sent few of them (docs/benchmarks.md, "Portal").
"""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from crossroads.adapters.sql.declarations import DECLARATIONS_FOR, DECLARATIONS_OF
from crossroads.adapters.sql.store import open_store

pytestmark = pytest.mark.anyio
COLUMNS = "(kind, form, employer, declarant, status, anomalies, summary, language, received_at_ms)"
ROWS = 5000
FEW = "0200000934"  # sent one declaration in 500; the payroll office sent the rest
FEW_FOR = "0410000192"  # one declaration in 500 is made for it; the rest for another employer


def _rows():
    for n in range(ROWS):
        declarant = f"{FEW}:portal" if n % 500 == 0 else "0200000736:payroll-app"
        employer = FEW_FOR if n % 500 == 7 else "0403448140"
        yield ("dimona", "DimonaIn", employer, declarant, "A", "[]", "{}", "nl", n)


@pytest.fixture
async def filled(store_url):
    """A migrated store holding ROWS declarations, its statistics gathered."""
    store = await open_store(store_url)
    await store.close()
    if store_url.startswith("sqlite"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
            conn.executemany(
                f"INSERT INTO declarations {COLUMNS} VALUES ({', '.join('?' * 9)})", _rows()
            )
            conn.execute("ANALYZE")
    else:
        with psycopg.connect(store_url, autocommit=True) as conn:
            with conn.cursor().copy(f"COPY declarations {COLUMNS} FROM STDIN") as copy:
                for row in _rows():
                    copy.write_row(row)
            conn.execute("ANALYZE declarations")
    return store_url


def _plan(url: str, query: str = DECLARATIONS_OF, first: str = FEW) -> str:
    arguments = (first, 2**63 - 1, 50)
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            rows = conn.execute("EXPLAIN QUERY PLAN " + query, arguments).fetchall()
        return "\n".join(row[3] for row in rows)
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "EXPLAIN " + query.replace("?", "%s"), arguments, prepare=False
        ).fetchall()
    return "\n".join(row[0] for row in rows)


async def test_an_institutions_declarations_are_read_along_their_index_newest_first(filled):
    plan = _plan(filled)
    assert "declarations_by_declarant_institution" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan and "Seq Scan" not in plan, plan
    store = await open_store(filled)
    try:
        found = await store.declarations.declarations_of(FEW, None, 50)
    finally:
        await store.close()
    assert len(found) == ROWS // 500
    assert [d.id for d in found] == sorted((d.id for d in found), reverse=True)
    assert {d.declarant for d in found} == {f"{FEW}:portal"}


async def test_an_employers_declarations_are_read_along_their_index_newest_first(filled):
    """The declarations made for an employer (migration 0029): an equality on `employer` walked
    along (employer, id), newest first, with no sort and no scan of the table."""
    plan = _plan(filled, DECLARATIONS_FOR, FEW_FOR)
    assert "declarations_by_employer" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan and "Seq Scan" not in plan, plan
    store = await open_store(filled)
    try:
        found = await store.declarations.declarations_for(FEW_FOR, None, 50)
    finally:
        await store.close()
    assert len(found) == ROWS // 500
    assert {d.employer for d in found} == {FEW_FOR}
