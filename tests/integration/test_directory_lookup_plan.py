"""PostgreSQL's directory look-up keeps one plan a connection, pruned as it starts.

`integrations` is hash-partitioned by subject; a statement on it with its values as parameters
was planned again at every call, and the planning cost more than the read (migration 0039,
docs/benchmarks.md). The look-up function's statement must be planned without its values (the
executor then removes the other partitions as it starts) and follow the primary key, before the
directory has statistics and after. Its plan is read with auto_explain, loaded for the session.
"""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from crossroads.adapters.sql.store import open_store
from crossroads.domain.directory import IntegrationChange, Phase
from crossroads.domain.periods import Period

from ..conftest import drop_postgres_database, fresh_postgres_database

pytestmark = pytest.mark.anyio
FUNDS = ("0411905847", "0200000538")
KEYS = [bytes([n]) * 16 for n in range(1, 41)]  # spread over the eight partitions


@pytest.fixture
async def directory_url():
    url = fresh_postgres_database()
    store = await open_store(url)
    try:
        await store.directory.apply(
            [
                IntegrationChange(
                    "integrate",
                    key,
                    FUNDS[n % 2],
                    "INSURED",
                    Phase.DEFINITIVE,
                    Period(date(2020, 1, 1)),
                )
                for n, key in enumerate(KEYS)
            ]
        )
    finally:
        await store.close()
    yield url
    drop_postgres_database(url)


def _nested_plans(url: str, subjects: list[bytes], institutions: list[str]) -> tuple[int, str]:
    """How many rows a fresh connection's first look-up gives, and the plans it ran inside."""
    notices: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.add_notice_handler(lambda diagnostic: notices.append(diagnostic.message_primary or ""))
        conn.execute("LOAD 'auto_explain'")
        conn.execute("SET auto_explain.log_min_duration = 0")
        conn.execute("SET auto_explain.log_nested_statements = on")
        conn.execute("SET auto_explain.log_level = notice")
        rows = conn.execute(
            "SELECT * FROM crossroads_held_by(%s::bytea[], %s::text[])", (subjects, institutions)
        ).fetchall()
    nested = [n for n in notices if "FROM integrations" in n]
    return len(rows), "\n".join(nested)


@pytest.mark.parametrize("statistics", [False, True], ids=["before ANALYZE", "after ANALYZE"])
async def test_each_pair_is_read_along_a_kept_plan_of_its_partition(directory_url, statistics):
    if statistics:
        with psycopg.connect(directory_url, autocommit=True) as conn:
            conn.execute("ANALYZE integrations")
    asked = [(KEYS[0], FUNDS[0]), (KEYS[1], FUNDS[1]), (KEYS[2], FUNDS[1])]  # the last: no row
    count, plans = _nested_plans(
        directory_url, [key for key, _ in asked], [institution for _, institution in asked]
    )
    assert count == 2
    assert plans.count("Query Text:") == 3, plans  # one read a pair
    # Planned without the values (a custom plan would name one partition and remove none), on
    # the first call of a connection already, and pruned to one partition as it starts.
    assert plans.count("Subplans Removed: 7") == 3, plans
    assert plans.count("Index Scan using integrations_p") == 3, plans
    assert "Seq Scan" not in plans


async def test_an_empty_round_reads_nothing(directory_url):
    count, plans = _nested_plans(directory_url, [], [])
    assert (count, plans) == (0, "")
