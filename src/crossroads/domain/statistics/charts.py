"""Bar charts of published tables, as geometry for a server-rendered SVG (no script, no CDN).

One horizontal bar per row of the table, labelled with the row's categories; a suppressed row
keeps its place, without a bar, and says so, so that the chart hides nothing the table shows.
The page puts the same rows in a table beside each chart (templates/portal/statistics.html),
and writes each value as the reader's language does.
"""

from __future__ import annotations

from dataclasses import dataclass

ROW_HEIGHT = 22
LABEL_WIDTH = 260
BAR_SPACE = 360
MAX_BARS = 60  # beyond, the chart says how many rows it leaves to the table


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: suppressed
    y: int
    width: int


@dataclass(frozen=True)
class BarChart:
    bars: tuple[Bar, ...]
    width: int
    height: int
    label_width: int
    row_height: int
    left_out: int  # rows not drawn (over MAX_BARS); the table has them all


def bar_chart(rows: list[tuple[str, float | None]]) -> BarChart:
    """`rows`: (label, value or None when suppressed), in the table's order."""
    drawn = rows[:MAX_BARS]
    largest = max((v for _, v in drawn if v is not None and v > 0), default=0.0)
    bars = tuple(
        Bar(
            label=label,
            value=value,
            y=i * ROW_HEIGHT,
            width=_width(value, largest),
        )
        for i, (label, value) in enumerate(drawn)
    )
    return BarChart(
        bars=bars,
        width=LABEL_WIDTH + BAR_SPACE + 110,
        height=max(len(bars), 1) * ROW_HEIGHT,
        label_width=LABEL_WIDTH,
        row_height=ROW_HEIGHT,
        left_out=len(rows) - len(drawn),
    )


def _width(value: float | None, largest: float) -> int:
    if value is None or largest == 0:
        return 0
    return round(max(value, 0) / largest * BAR_SPACE)
