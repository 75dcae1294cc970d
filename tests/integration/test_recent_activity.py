"""The activity the portal's charts show, read from the audit log on both stores: the window's
start found by bisecting the log on time, only what was appended since read on the next view,
each count kept for the hub and for its institution, and a new day moving the window."""

from __future__ import annotations

from datetime import date

import pytest

from crossroads.adapters.sql.store import open_store
from crossroads.domain.activity import HUB
from crossroads.domain.audit import AuditRecord
from crossroads.services.activity import RecentActivity
from crossroads.services.clock import FixedClock

pytestmark = pytest.mark.anyio
DAY = 24 * 3600
NOW = 1_781_524_800.0  # 2026-06-15 12:00 UTC
WELFARE, FUND = "0206731645", "0411905847"


def exchange(at: float, consumer: str, outcome: str = "ok") -> AuditRecord:
    return AuditRecord(kind="exchange", at_ms=int(at * 1000), outcome=outcome, consumer=consumer)


@pytest.fixture
async def store(store_url):
    opened = await open_store(store_url)
    yield opened
    await opened.close()


async def test_the_window_counts_the_last_days_per_institution_and_reads_only_what_is_new(store):
    # Forty days of history, one exchange a day, before the window and in it.
    for days_ago in range(40, 0, -1):
        await store.audit.append(exchange(NOW - days_ago * DAY, WELFARE))
    await store.audit.append(exchange(NOW - 60, WELFARE))
    await store.audit.append(exchange(NOW - 30, FUND, outcome="no_authorization"))
    await store.audit.append(
        AuditRecord(
            kind="declaration",
            at_ms=int((NOW - 10) * 1000),
            outcome="ok",
            consumer=WELFARE,
            detail={"status": "W"},
        )
    )
    clock = FixedClock(NOW)
    activity = RecentActivity(store.audit, store.statistics, clock, days=14)
    tally = await activity.tally()
    assert tally.since == date(2026, 6, 2)
    per_day = tally.exchanges_per_day(WELFARE, clock.today())
    assert len(per_day) == 14 and per_day[0] == (date(2026, 6, 2), 1)
    assert per_day[-1] == (date(2026, 6, 15), 1)  # yesterday's noon is 6-14; 60 s ago is today
    assert sum(n for _, n in per_day) == 14
    assert tally.exchanges_per_day(HUB, clock.today()) == per_day  # the fund was refused
    assert tally.refusals_by_code(FUND) == [("no_authorization", 1)]
    assert tally.refusals_by_code(WELFARE) == []
    assert tally.declarations_by_status(HUB) == [("W", 1)]
    # The next view reads what was appended since, and nothing twice.
    await store.audit.append(exchange(NOW, WELFARE))
    again = await activity.tally()
    assert sum(n for _, n in again.exchanges_per_day(WELFARE, clock.today())) == 15
    # A day later the window moves: its first day is left out.
    clock.at = NOW + DAY
    moved = await activity.tally()
    assert moved.since == date(2026, 6, 3)
    assert sum(n for _, n in moved.exchanges_per_day(WELFARE, clock.today())) == 14


async def test_an_empty_log_has_no_activity(store):
    activity = RecentActivity(store.audit, store.statistics, FixedClock(NOW))
    tally = await activity.tally()
    assert tally.refusals_by_code(HUB) == []
    assert all(n == 0 for _, n in tally.exchanges_per_day(HUB, date(2026, 6, 15)))
    assert [n for _, n in tally.delivery_delays(HUB)] == [0] * 7
