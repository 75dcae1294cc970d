"""The statistics warehouse kept up to date by the hub itself, every
CROSSROADS_STATISTICS_EXTRACT_SECONDS.

Every interval the leading hub process (the one holding the audit sequencer's lease, as for the
other background work) extracts what the stores gained since the last run and then publishes
the operator's open-data tables from the new marts. Only the leader runs it, so the hub's
workers never compete for the warehouse; an operator's `crossroads statistics extract` at the
same moment gets `warehouse_unavailable` or makes the leader's run wait for the next interval,
never a half-written warehouse. A failure is logged and tried again at the next interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..domain.errors import Refusal
from .clock import sleep_unless
from .statistics_extraction import ExtractionReport, WarehouseExtraction
from .statistics_publication import StatisticsPublication

log = logging.getLogger(__name__)


class StatisticsSchedule:
    def __init__(self, extraction: WarehouseExtraction, publication: StatisticsPublication) -> None:
        self._extraction = extraction
        self._publication = publication
        self.runs = 0  # completed runs of this process (the metrics' and the tests' view)

    async def run_once(self) -> ExtractionReport | None:
        """One extraction and publication; None when another process holds the warehouse."""
        try:
            report = await self._extraction.run()
        except Refusal as refused:
            if refused.code != "warehouse_unavailable":
                raise
            log.info("statistics: the warehouse is busy elsewhere; next interval then")
            return None
        await self._publication.publish()
        self.runs += 1
        log.info("statistics: extracted %d records", report.total)
        return report

    async def run(self, stop: asyncio.Event, leading: Callable[[], bool], interval: float) -> None:
        """Until `stop`: every `interval` seconds, when this process leads, one run. An
        interval of 0 turns the schedule off."""
        if interval <= 0:
            return
        while not stop.is_set():
            await sleep_unless(stop, interval)
            if stop.is_set() or not leading():
                continue
            try:
                await self.run_once()
            except Exception:  # the store or the disk, most likely: tried again next interval
                log.exception("statistics: the scheduled extraction failed")
