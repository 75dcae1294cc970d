"""The hub's recent activity for the portal's charts, read incrementally from the audit log and
the deliveries' changes (domain/activity.py counts them, each delivery as it last changed).

Each process keeps its tally and, when asked, reads only what was appended since it last read:
a page view costs the records of the last seconds, not a scan of the log. The first read finds
where the window starts by bisecting the log on time (a few reads of one record), so a hub with
years of log reads only its last days. The window moves on each day: a tally whose first day has
left it is thrown away and read again.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import orjson

from ..domain.activity import DAY_MS, ActivityTally
from .clock import Clock
from .ports import AuditLog, Position, StatisticsSource
from .ports.statistics import as_list

WINDOW_DAYS = 14
_BATCH = 5000


class RecentActivity:
    def __init__(
        self,
        audit: AuditLog,
        source: StatisticsSource,
        clock: Clock,
        days: int = WINDOW_DAYS,
    ) -> None:
        self._audit = audit
        self._source = source
        self._clock = clock
        self._days = days
        self._lock = asyncio.Lock()
        self._tally: ActivityTally | None = None
        self._next_seq = 0  # the next audit record to read
        self._deliveries_after = Position()  # the last change of a delivery read

    @property
    def days(self) -> int:
        return self._days

    async def tally(self) -> ActivityTally:
        """The counts of the last `days` days (today included), up to now."""
        async with self._lock:
            first = self.first_day()
            if self._tally is None or self._tally.since != first:
                self._tally = ActivityTally(first)
                self._next_seq = await self._first_seq(self._clock.now_ms() - self._days * DAY_MS)
                self._deliveries_after = Position()
            await self._read_records(self._tally)
            await self._read_deliveries(self._tally)
            return self._tally

    def first_day(self) -> date:
        return self._clock.today() - timedelta(days=self._days - 1)

    def today(self) -> date:
        return self._clock.today()

    async def _read_records(self, tally: ActivityTally) -> None:
        while True:
            rows = await self._audit.read(self._next_seq, _BATCH)
            for _, raw in rows:
                tally.add_record(orjson.loads(raw))
            if rows:
                self._next_seq = rows[-1][0] + 1
            if len(rows) < _BATCH:
                return

    async def _read_deliveries(self, tally: ActivityTally) -> None:
        while True:
            batch = await self._source.read("deliveries", self._deliveries_after, _BATCH)
            if batch is None:
                return
            columns = batch.tables["deliveries"]
            for seq, institution, published, acked, dead in zip(
                as_list(columns["seq"]),
                as_list(columns["institution"]),
                as_list(columns["published_at_ms"]),
                as_list(columns["acked_at_ms"]),
                as_list(columns["dead_at_ms"]),
                strict=True,
            ):
                tally.add_delivery(seq, institution, published, acked, dead)
            self._deliveries_after = batch.position
            if batch.records < _BATCH:
                return

    async def _first_seq(self, since_ms: int) -> int:
        """The first audit record at or after `since_ms` (the log is appended in time order),
        found by bisecting on its sequence numbers."""
        low, high = 0, await self._last_seq() + 1
        while low < high:
            middle = (low + high) // 2
            found = await self._audit.read(middle, 1)
            if not found:
                high = middle
                continue
            seq, raw = found[0]
            if orjson.loads(raw).get("at_ms", 0) < since_ms:
                low = seq + 1
            else:
                high = middle
        return low

    async def _last_seq(self) -> int:
        count = await self._audit.count()
        if count == 0:
            return 0
        # Sequence numbers start at 1 and may have gaps after pruning: step past the count.
        step = count
        while await self._audit.read(step + 1, 1):
            step *= 2
        return step
