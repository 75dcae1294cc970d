from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossroads.domain.errors import Refusal
from crossroads.domain.periods import Period, merge_into, parse_date, subtract, union_covers

D = date(2024, 1, 1)


def p(a, b=None):
    return Period(D + timedelta(days=a), None if b is None else D + timedelta(days=b))


def test_reversed_period_is_refused():
    with pytest.raises(Refusal) as refused:
        p(5, 1)
    assert refused.value.code == "invalid_period"


def test_merge_absorbs_overlapping_and_adjacent():
    absorbed, merged = merge_into([p(0, 9), p(10, 19), p(30, 40)], p(15, 29))
    assert merged == p(0, 40) and sorted(absorbed) == [p(0, 9), p(10, 19), p(30, 40)]
    absorbed, merged = merge_into([p(0, 9)], p(11, 12))
    assert absorbed == [] and merged == p(11, 12)
    assert merge_into([p(0, 9)], p(5))[1] == p(0)


def test_cover_and_subtract():
    assert union_covers([p(0, 9), p(10, 19)], p(3, 15))
    assert not union_covers([p(0, 9), p(11, 19)], p(3, 15))
    assert union_covers([p(0)], p(100))
    assert not union_covers([p(0, 9)], p(5))
    assert subtract(p(0, 20), p(5, 9)) == [p(0, 4), p(10, 20)]
    assert subtract(p(0), p(5)) == [p(0, 4)]
    assert subtract(p(0, 3), p(5, 9)) == [p(0, 3)]


def test_periods_sort_with_open_ends():
    assert sorted([p(0), p(0, 5), p(-1)]) == [p(-1), p(0, 5), p(0)]
    assert union_covers([p(0), p(0, 0)], p(0, 10))
    assert merge_into([p(0), p(0, 3)], p(1, 2))[1] == p(0)


def test_parse_date_names_the_field():
    assert parse_date("2024-02-29", "start") == date(2024, 2, 29)
    for bad in ("2023-02-29", "tomorrow", 5):
        with pytest.raises(Refusal) as refused:
            parse_date(bad, "start")
        assert refused.value.field == "start"


periods = st.builds(lambda a, n: p(a, a + n), st.integers(0, 100), st.integers(0, 30))


@given(st.lists(periods, max_size=6), periods)
def test_merging_keeps_exactly_the_same_days(existing, new):
    # The periods are kept merged by construction, as the directory keeps them.
    merged_set: list[Period] = []
    for period in existing:
        absorbed, merged = merge_into(merged_set, period)
        merged_set = [q for q in merged_set if q not in absorbed] + [merged]
    absorbed, merged = merge_into(merged_set, new)
    after = [q for q in merged_set if q not in absorbed] + [merged]

    def days(ps):
        return {
            q.start + timedelta(days=i) for q in ps for i in range((q.last_day - q.start).days + 1)
        }

    assert days(after) == days(merged_set) | days([new])
    for i, a in enumerate(after):  # no two left touching: nothing left to merge
        assert not any(a.touches(b) for b in after[i + 1 :])
