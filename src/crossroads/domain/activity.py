"""The hub's activity over the last days, as the portal's charts show it: exchanges per day,
refusals by code, declarations by status, and how long mutations took to be delivered.

A tally, filled from audit records (each one a decoded dict) and settled deliveries, counted per
day and per institution, so that the operator sees the whole hub and an institution's staff see
only their own institution's lines out of the same counts. It holds counts, never a person: no
subject, no identifier, no request id.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

DAY_MS = 24 * 3600 * 1000
# A delivery's delay (from publication to acknowledgement), in buckets a reader compares at a
# glance: each bucket is the upper bound in seconds; a longer one falls in the last, open one.
DELAY_BUCKETS = (1, 10, 60, 600, 3600)
DEAD = "dead"  # a delivery given up after its last failed push, in place of a delay bucket
HUB = "*"  # the key under which the whole hub's counts are kept besides each institution's


def day_of(at_ms: int) -> date:
    return datetime.fromtimestamp(at_ms / 1000, UTC).date()


def delay_bucket(delay_ms: int) -> str:
    """The bucket of a delay: '1' (up to a second), '10', '60', '600', '3600', or '>3600'."""
    for bound in DELAY_BUCKETS:
        if delay_ms <= bound * 1000:
            return str(bound)
    return f">{DELAY_BUCKETS[-1]}"


@dataclass
class ActivityTally:
    """Counts since `since` (a day), each kept for the hub (HUB) and per institution."""

    since: date
    exchanges: dict[str, Counter[date]] = field(default_factory=dict)
    refusals: dict[str, Counter[str]] = field(default_factory=dict)
    declarations: dict[str, Counter[str]] = field(default_factory=dict)
    delays: dict[str, Counter[str]] = field(default_factory=dict)
    # The deliveries counted DEAD, by their sequence number: the only settled ones that change
    # again (replayed, dropped), and few. Their later change replaces their count.
    dead_letters: dict[int, str] = field(default_factory=dict)

    def add_record(self, record: dict[str, Any]) -> None:
        """One audit record: an exchange answered counts for its day, a refusal of any kind
        for its code, a declaration received for its status (A, W, B, …)."""
        at_ms = record.get("at_ms")
        if not isinstance(at_ms, int) or day_of(at_ms) < self.since:
            return
        institution = record.get("consumer") or "-"
        outcome = record.get("outcome")
        kind = record.get("kind")
        if outcome != "ok":
            if isinstance(outcome, str):
                _count(self.refusals, institution, outcome)
            return
        if kind == "exchange":
            _count(self.exchanges, institution, day_of(at_ms))
        elif kind == "declaration":
            status = (record.get("detail") or {}).get("status")
            if isinstance(status, str):
                _count(self.declarations, institution, status)

    def add_delivery(
        self,
        seq: int,
        institution: str,
        published_ms: int,
        acked_ms: int | None,
        dead_ms: int | None,
    ) -> None:
        """A change of delivery `seq`: settled, its delay's bucket, or DEAD (given up, or
        dropped since); each delivery counts once, as it last changed. A dead letter replayed
        leaves DEAD (waiting again, it counts nowhere until it settles)."""
        earlier = self.dead_letters.pop(seq, None)
        if earlier is not None:
            for holder in (HUB, earlier):
                self.delays[holder][DEAD] -= 1
        settled = acked_ms if acked_ms is not None else dead_ms
        if settled is None or day_of(settled) < self.since:
            return
        if dead_ms is not None:
            self.dead_letters[seq] = institution
            _count(self.delays, institution, DEAD)
        else:
            _count(self.delays, institution, delay_bucket(max(settled - published_ms, 0)))

    def exchanges_per_day(self, institution: str, until: date) -> list[tuple[date, int]]:
        """Every day from `since` to `until`, with 0 for a day without exchanges."""
        counts = self.exchanges.get(institution, Counter())
        days = (until - self.since).days + 1
        return [(self.since + timedelta(d), counts[self.since + timedelta(d)]) for d in range(days)]

    def refusals_by_code(self, institution: str) -> list[tuple[str, int]]:
        return _largest_first(self.refusals.get(institution, Counter()))

    def declarations_by_status(self, institution: str) -> list[tuple[str, int]]:
        return sorted(self.declarations.get(institution, Counter()).items())

    def delivery_delays(self, institution: str) -> list[tuple[str, int]]:
        """Every bucket in order, then the dead letters; 0 where none fell."""
        counts = self.delays.get(institution, Counter())
        order = [*(str(b) for b in DELAY_BUCKETS), f">{DELAY_BUCKETS[-1]}", DEAD]
        return [(bucket, counts[bucket]) for bucket in order]


def _count(table: dict[str, Counter[Any]], institution: str, key: Any) -> None:
    for holder in (HUB, institution):
        table.setdefault(holder, Counter())[key] += 1


def _largest_first(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
