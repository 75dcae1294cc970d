"""Time as a dependency, so that tests fix it instead of sleeping."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, date, datetime


class Clock:
    def now(self) -> float:
        return time.time()

    def today(self) -> date:
        return datetime.now(UTC).date()

    def now_ms(self) -> int:
        return int(self.now() * 1000)


class FixedClock(Clock):
    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        return self.at

    def today(self) -> date:
        return datetime.fromtimestamp(self.at, UTC).date()


async def sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less when `stop` is set meanwhile (the background loops' pause)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
