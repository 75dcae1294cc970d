"""The store of citizens' reports of wrong data, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from crossroads.adapters.sql.store import open_store
from crossroads.domain.data_reports import DataReport

pytestmark = pytest.mark.anyio
NR, FUND = "0200000131", "0200000428"


@pytest.fixture
async def reports(store_url):
    opened = await open_store(store_url)
    yield opened.data_reports
    await opened.close()


async def test_a_source_reads_its_reports_and_closes_each_once(reports):
    first = await reports.add(
        DataReport(None, NR, "person.address", "85073100130", "aa", "x", 1), 5
    )
    await reports.add(DataReport(None, FUND, "health.affiliation", "85073100130", "aa", "y", 2), 5)
    later = await reports.add(
        DataReport(None, NR, "person.identity", "85073100130", "bb", "z", 3), 5
    )
    assert [r.id for r in await reports.of_source(NR, 0, 10)] == [first.id, later.id]
    assert [r.id for r in await reports.of_source(NR, first.id, 10)] == [later.id]
    assert [r.message for r in await reports.of_subject("aa", 10)] == ["y", "x"]
    assert not await reports.close(first.id, FUND, 5, "not mine")  # another source's report
    assert await reports.close(first.id, NR, 5, "corrected")
    assert not await reports.close(first.id, NR, 6, "again")  # closed once
    [closed, _] = await reports.of_source(NR, 0, 10)
    assert (closed.closed_at_ms, closed.answer, closed.open) == (5, "corrected", False)


async def test_reports_sent_at_once_never_pass_the_bound_of_open_ones_together(reports):
    def report(n: int) -> DataReport:
        return DataReport(None, NR, "person.address", "85073100130", "aa", f"m{n}", n)

    added = await asyncio.gather(*(reports.add(report(n), 5) for n in range(40)))
    assert sum(r is not None for r in added) == 5
    assert len(await reports.of_subject("aa", 100)) == 5
    # Another service, another source or another person has its own bound; an answered one
    # no longer counts.
    assert await reports.add(DataReport(None, NR, "person.identity", "x", "aa", "m", 1), 5)
    assert await reports.add(DataReport(None, FUND, "person.address", "x", "aa", "m", 1), 5)
    assert await reports.add(DataReport(None, NR, "person.address", "y", "bb", "m", 1), 5)
    first = min(r.id for r in added if r is not None)
    assert await reports.close(first, NR, 50, "corrected")
    assert await reports.add(report(99), 5) is not None
    assert await reports.add(report(100), 5) is None
