"""The activity charts the operator's and the institutions' pages share: exchanges per day,
refusals by code, declarations by status and delivery delays, each a bar chart drawn on the
server (domain/statistics/charts.py) with its figures in a table beside it.

The operator sees the whole hub's counts (`HUB`), an institution's staff their institution's:
the same tally (services/activity.py), read for one key.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date
from functools import lru_cache
from weakref import WeakKeyDictionary

from markupsafe import Markup

from ...domain.activity import DEAD, DELAY_BUCKETS
from ...domain.statistics.charts import bar_chart
from ...services.activity import RecentActivity
from ...templates import environment
from ...templates.i18n import N_, day, number, translations

# A delay bucket by its upper bound in seconds, as a reader says it.
DELAY_LABELS = {
    "1": N_("up to 1 second"),
    "10": N_("up to 10 seconds"),
    "60": N_("up to 1 minute"),
    "600": N_("up to 10 minutes"),
    "3600": N_("up to 1 hour"),
    f">{DELAY_BUCKETS[-1]}": N_("more than 1 hour"),
    DEAD: N_("given up (dead letter)"),
}
# The declarations' statuses as the forms name them (docs/declarations.md).
STATUS_LABELS = {
    "A": N_("accepted (A)"),
    "W": N_("accepted with warnings (W)"),
    "B": N_("refused (B)"),
}


# The charts drawn for a holder in a language are kept this long: a page viewed by many at once
# (an operators' wall screen, the bench's 50 users) draws them once a second, not once a view.
FRESH_SECONDS = 1.0
# Each drawing is kept as the task that draws it, from the moment it begins: the views that come
# while it is drawn wait for that task rather than each drawing again. Without it, every view in
# the few milliseconds a drawing takes (reading the tally's deliveries in a thread, rendering the
# four charts) found the charts stale and drew them too, and the views queued behind those
# drawings waited (one worker under 50 users: 107 stretches of drawing in six seconds, 6 after;
# the overview's p95 had been ten times its median; docs/benchmarks.md, "Portal").
_drawn: WeakKeyDictionary[
    RecentActivity, dict[tuple[str, str], tuple[float, asyncio.Future[dict]]]
] = WeakKeyDictionary()


@lru_cache(maxsize=1024)
def _day_label(value: date, locale: str) -> str:
    return day(value, locale)  # Babel's format_date: the dearest part of drawing the charts


async def activity_charts(activity: RecentActivity, holder: str, locale: str) -> dict:
    """The four charts of `holder`'s activity (HUB, or an enterprise number), in `locale`, drawn
    from a tally read at most FRESH_SECONDS ago (or being read now)."""
    kept = _drawn.setdefault(activity, {})
    now = time.monotonic()
    found = kept.get((holder, locale))
    if found is not None and (not found[1].done() or _usable(found, now)):
        return await asyncio.shield(found[1])  # a view that leaves does not stop the drawing
    drawing = asyncio.ensure_future(_draw(activity, holder, locale))
    if len(kept) > 4 * 1000:  # four languages of each institution: never more, unless forged
        kept.clear()
    kept[(holder, locale)] = (now + FRESH_SECONDS, drawing)
    return await asyncio.shield(drawing)


def _usable(found: tuple[float, asyncio.Future[dict]], now: float) -> bool:
    """Whether a finished drawing may still be shown: fresh, and drawn (a failed one is drawn
    again by the next view, as it would have been had it never been kept)."""
    expires, drawing = found
    return expires > now and not drawing.cancelled() and drawing.exception() is None


async def _draw(activity: RecentActivity, holder: str, locale: str) -> dict:
    tally = await activity.tally()
    gettext = translations(locale).gettext
    per_day = [
        (_day_label(d, locale), float(n))
        for d, n in tally.exchanges_per_day(holder, activity.today())
    ]
    charts = [
        _chart("exchanges", N_("Exchanges answered per day"), N_("Day"), per_day),
        _chart(
            "refusals",
            N_("Refusals by code"),
            N_("Code"),
            [(code, float(n)) for code, n in tally.refusals_by_code(holder)],
        ),
        _chart(
            "declarations",
            N_("Declarations by status"),
            N_("Status"),
            [
                (gettext(STATUS_LABELS.get(s, s)) if s in STATUS_LABELS else s, float(n))
                for s, n in tally.declarations_by_status(holder)
            ],
        ),
        _chart(
            "delays",
            N_("Mutations delivered, by delay from publication to acknowledgement"),
            N_("Delay"),
            [(gettext(DELAY_LABELS[b]), float(n)) for b, n in tally.delivery_delays(holder)],
        ),
    ]
    return {
        "charts": charts,
        # Written once with the charts: the macro drawing the bars and their tables was half of
        # the operator's overview's rendering, the same on every view within FRESH_SECONDS.
        "charts_html": Markup(
            environment(locale).get_template("portal/activity_charts.html").render(charts=charts)
        ),
        "since": tally.since,
        "days": activity.days,
        "total_exchanges": number(sum(n for _, n in per_day), locale),
    }


def _chart(name: str, title: str, label: str, rows: list[tuple[str, float]]) -> dict:
    return {
        "name": name,
        "title": title,
        "label": label,
        "chart": bar_chart(rows),
        "rows": rows,
        "empty": not any(value for _, value in rows),
    }
