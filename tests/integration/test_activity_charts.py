"""The operator's and institutions' activity charts: views that come together share one drawing,
and a drawing older than FRESH_SECONDS is drawn again."""

from __future__ import annotations

import asyncio

import pytest

from crossroads.adapters.sql.store import open_store
from crossroads.domain.activity import HUB
from crossroads.domain.audit import AuditRecord
from crossroads.entrypoints.api import activity_charts as charts
from crossroads.services.activity import RecentActivity
from crossroads.services.clock import FixedClock

pytestmark = pytest.mark.anyio
NOW = 1_781_524_800.0  # 2026-06-15 12:00 UTC


@pytest.fixture
async def activity(store_url):
    store = await open_store(store_url)
    await store.audit.append(
        AuditRecord(kind="exchange", at_ms=int(NOW * 1000) - 60_000, outcome="ok", consumer="x")
    )
    yield RecentActivity(store.audit, store.statistics, FixedClock(NOW))
    await store.close()


async def test_views_that_come_while_the_charts_are_drawn_share_that_drawing(activity):
    # Fifty views at once, as the bench's users: the first draws (reading the tally waits on the
    # store), the others find its drawing under way and wait for it, rather than each drawing
    # the same charts again and holding the event loop for the views queued behind them.
    views = await asyncio.gather(*(charts.activity_charts(activity, HUB, "nl") for _ in range(50)))
    assert all(view is views[0] for view in views)
    assert views[0]["total_exchanges"] == "1"
    # Within FRESH_SECONDS a later view is shown the same drawing; each language has its own.
    assert await charts.activity_charts(activity, HUB, "nl") is views[0]
    assert await charts.activity_charts(activity, HUB, "fr") is not views[0]


async def test_charts_older_than_fresh_seconds_are_drawn_again(activity, monkeypatch):
    first = await charts.activity_charts(activity, HUB, "de")
    monkeypatch.setattr(charts, "FRESH_SECONDS", 0.0)
    again = await charts.activity_charts(activity, HUB, "en")
    assert await charts.activity_charts(activity, HUB, "en") is not again
    assert first["total_exchanges"] == again["total_exchanges"] == "1"
