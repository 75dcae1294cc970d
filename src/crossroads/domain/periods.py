"""Date periods: closed intervals of days, open-ended when `end` is None.

Pure functions over periods are the heart of the reference directory: merging integrations,
checking that an integration covers a period of interest, and subtracting a removed period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import total_ordering
from typing import Iterable

from .errors import Refusal

ONE_DAY = timedelta(days=1)


@total_ordering
@dataclass(frozen=True)
class Period:
    start: date
    end: date | None = None  # inclusive; None means "until further notice"

    def __post_init__(self) -> None:
        if self.end == date.max:
            # The calendar's last day is "until further notice": stored as an open end, so that
            # no rule ever computes the day after it.
            object.__setattr__(self, "end", None)
        elif self.end is not None and self.end < self.start:
            raise Refusal(
                "invalid_period",
                f"the period ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()}).",
                "period",
            )

    def __reduce__(self):
        # A dataclass pickles through copyreg and its __dict__ (~6 µs); a bulk load sends
        # millions of periods from its parsing processes.
        return Period, (self.start, self.end)

    def as_dict(self) -> dict[str, str | None]:
        return period_dict(self.start, self.end)

    @property
    def last_day(self) -> date:
        return self.end if self.end is not None else date.max

    def __lt__(self, other: "Period") -> bool:
        # Ordered by first day, then last day; an open end sorts after every closed one (a plain
        # tuple order would compare a date with None).
        return (self.start, self.last_day) < (other.start, other.last_day)

    def overlaps(self, other: "Period") -> bool:
        return self.start <= other.last_day and other.start <= self.last_day

    def touches(self, other: "Period") -> bool:
        """Overlapping or adjacent (one ends the day before the other starts)."""
        if self.overlaps(other):
            return True
        if self.end is not None and self.end + ONE_DAY == other.start:
            return True
        return other.end is not None and other.end + ONE_DAY == self.start

    def covers(self, other: "Period") -> bool:
        return self.start <= other.start and other.last_day <= self.last_day

    def union(self, other: "Period") -> "Period":
        end = None if self.end is None or other.end is None else max(self.end, other.end)
        return Period(min(self.start, other.start), end)

    @classmethod
    def day(cls, when: date) -> "Period":
        return cls(when, when)


def merge_into(existing: Iterable[Period], new: Period) -> tuple[list[Period], Period]:
    """Merge `new` with every existing period it overlaps or touches.

    Returns the existing periods that the merged one replaces, and the merged period.
    """
    absorbed = []
    merged = new
    # Absorbing one period can make the merged period touch another; repeat until stable.
    remaining = sorted(existing)
    changed = True
    while changed:
        changed = False
        for period in list(remaining):
            if merged.touches(period):
                merged = merged.union(period)
                absorbed.append(period)
                remaining.remove(period)
                changed = True
    return absorbed, merged


def union_covers(periods: Iterable[Period], wanted: Period) -> bool:
    """True when the union of `periods` covers every day of `wanted`."""
    cursor = wanted.start
    for period in sorted(periods):
        if period.start > cursor:
            break
        if period.last_day >= cursor:
            if period.end is None or period.end >= wanted.last_day:
                return True
            cursor = period.end + ONE_DAY
    return False


def subtract(period: Period, removed: Period) -> list[Period]:
    """What is left of `period` once the days of `removed` are taken out (0, 1 or 2 periods)."""
    if not period.overlaps(removed):
        return [period]
    left = []
    if period.start < removed.start:
        left.append(Period(period.start, removed.start - ONE_DAY))
    if removed.end is not None and period.last_day > removed.end:
        left.append(Period(removed.end + ONE_DAY, period.end))
    return left


def parse_date(value: object, field: str) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise Refusal("invalid_period", f"{field} must be a date written YYYY-MM-DD.", field)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Refusal("invalid_period", f"{field} is not a real date: {value!r} (expected YYYY-MM-DD).", field) from None


def period_dict(start: date, end: date | None) -> dict[str, str | None]:
    """A period as every answer and record spells it: ISO dates, `end` None when open."""
    return {"start": start.isoformat(), "end": end.isoformat() if end else None}
