"""Official code lists (joint committees, remuneration codes, working-time codes…), each code
valid over a range of quarters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


def quarter_of(day: date) -> int:
    """The quarter as the DmfA writes it: 20233 for the third quarter of 2023."""
    return day.year * 10 + (day.month - 1) // 3 + 1


def quarter_bounds(quarter: int) -> tuple[date, date]:
    """The first and last day of a quarter (YYYYQ); ValueError for a number that names none."""
    year, number = divmod(quarter, 10)
    if not 1 <= number <= 4:
        raise ValueError(f"{quarter} is not a quarter (YYYYQ)")
    first = date(year, 3 * number - 2, 1)
    if (
        number == 4
    ):  # computed within the year: the fourth quarter of 9999 has no next day to count back from
        return first, date(year, 12, 31)
    return first, date.fromordinal(date(year, 3 * number + 1, 1).toordinal() - 1)


@dataclass(frozen=True)
class CodeList:
    name: str
    validity: dict[str, tuple[tuple[int, int], ...]]  # code -> ((first quarter, last quarter), …)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # code -> language -> text
    flags: dict[str, frozenset[str]] = field(default_factory=dict)  # code -> markers such as "DMFA"

    def valid(self, code: str, quarter: int) -> bool:
        return any(first <= quarter <= last for first, last in self.validity.get(code, ()))

    def __contains__(self, code: str) -> bool:
        return code in self.validity

    def flagged(self, code: str, flag: str) -> bool:
        return flag in self.flags.get(code, frozenset())
