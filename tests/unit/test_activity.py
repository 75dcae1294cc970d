"""The activity tally: delays fall in the bucket of their upper bound, a delivery given up counts
as dead, and whatever is before the window's first day is not counted."""

from __future__ import annotations

from datetime import date

from crossroads.domain.activity import DEAD, HUB, ActivityTally, delay_bucket

DAY_START_MS = 1_781_481_600_000  # 2026-06-15 00:00 UTC


def test_a_delay_falls_in_the_bucket_of_its_upper_bound():
    assert [delay_bucket(ms) for ms in (0, 1000, 1001, 60_000, 3_600_000, 3_600_001)] == [
        "1",
        "1",
        "10",
        "60",
        "3600",
        ">3600",
    ]


def test_deliveries_count_by_delay_and_dead_letters_apart_within_the_window():
    tally = ActivityTally(date(2026, 6, 15))
    tally.add_delivery(1, "0206731645", DAY_START_MS, DAY_START_MS + 400, None)
    tally.add_delivery(2, "0206731645", DAY_START_MS, DAY_START_MS + 90_000, None)
    tally.add_delivery(3, "0411905847", DAY_START_MS, None, DAY_START_MS + 5_000)
    tally.add_delivery(4, "0411905847", DAY_START_MS - 86_400_000, DAY_START_MS - 1, None)  # before
    hub = dict(tally.delivery_delays(HUB))
    assert hub["1"] == 1 and hub["600"] == 1 and hub[DEAD] == 1 and sum(hub.values()) == 3
    assert dict(tally.delivery_delays("0411905847")) == {**dict.fromkeys(hub, 0), DEAD: 1}


def test_a_dead_letter_replayed_or_dropped_counts_once_as_it_last_changed():
    tally = ActivityTally(date(2026, 6, 15))
    fund = "0411905847"
    for seq in (1, 2):
        tally.add_delivery(seq, fund, DAY_START_MS, None, DAY_START_MS + 5_000)
    assert dict(tally.delivery_delays(fund))[DEAD] == 2
    tally.add_delivery(1, fund, DAY_START_MS, None, None)  # replayed: waiting again
    assert dict(tally.delivery_delays(HUB))[DEAD] == 1
    tally.add_delivery(1, fund, DAY_START_MS, DAY_START_MS + 30_000, None)  # then delivered
    tally.add_delivery(2, fund, DAY_START_MS, DAY_START_MS + 40_000, DAY_START_MS + 5_000)  # drop
    for holder in (HUB, fund):
        counts = dict(tally.delivery_delays(holder))
        assert counts["60"] == 1 and counts[DEAD] == 1 and sum(counts.values()) == 2


def test_a_record_before_the_window_or_without_a_time_is_not_counted():
    tally = ActivityTally(date(2026, 6, 15))
    tally.add_record({"kind": "exchange", "outcome": "ok", "at_ms": DAY_START_MS - 1})
    tally.add_record({"kind": "exchange", "outcome": "ok"})
    tally.add_record({"kind": "request", "outcome": "unauthenticated", "at_ms": DAY_START_MS})
    assert tally.exchanges_per_day(HUB, date(2026, 6, 15)) == [(date(2026, 6, 15), 0)]
    assert tally.refusals_by_code("-") == [("unauthenticated", 1)]
