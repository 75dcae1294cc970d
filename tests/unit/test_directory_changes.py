"""How integrate, end and remove change the periods a person is held for
(domain.directory.periods_after), checked against a model that keeps the days themselves."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossroads.domain.directory import IntegrationChange, Phase, periods_after
from crossroads.domain.periods import Period

D = date(2024, 1, 1)
HORIZON = 60  # every day a change names is at most this; day HORIZON + 1 stands for "and after"
KEY = b"k" * 32


def p(a, b=None):
    return Period(D + timedelta(days=a), None if b is None else D + timedelta(days=b))


def change(op, phase=Phase.DEFINITIVE, period=None, end=None):
    return IntegrationChange(op, KEY, "0200000736", "SOCIAL_ASSISTANCE", phase, period,
                             None if end is None else D + timedelta(days=end))


def test_integrating_merges_overlapping_and_adjacent_periods_of_the_same_phase_only():
    held = {(Phase.DEFINITIVE, p(0, 9)), (Phase.PROVISIONAL, p(10, 19))}
    after = periods_after(held, change("integrate", period=p(10, 14)))
    assert after == {(Phase.DEFINITIVE, p(0, 14)), (Phase.PROVISIONAL, p(10, 19))}


def test_ending_takes_out_every_day_after_the_last_in_both_phases():
    held = {(Phase.DEFINITIVE, p(0)), (Phase.PROVISIONAL, p(20, 30)), (Phase.DEFINITIVE, p(-9, -5))}
    after = periods_after(held, change("end", end=9))
    assert after == {(Phase.DEFINITIVE, p(0, 9)), (Phase.DEFINITIVE, p(-9, -5))}


def test_ending_on_the_calendars_last_day_changes_nothing():
    held = {(Phase.DEFINITIVE, p(0))}
    assert periods_after(held, change("end")._replace(end=date.max)) == held


def test_removing_takes_out_the_days_of_the_period_or_every_day():
    held = {(Phase.DEFINITIVE, p(0, 20))}
    assert periods_after(held, change("remove", period=p(5, 9))) == {
        (Phase.DEFINITIVE, p(0, 4)), (Phase.DEFINITIVE, p(10, 20))}
    assert periods_after(held, change("remove")) == set()


@pytest.mark.parametrize("bad", [change("integrate"), change("end"), change("merge", period=p(0))])
def test_a_change_missing_what_it_needs_is_a_programming_error(bad):
    with pytest.raises(ValueError):
        periods_after(set(), bad)


def _days(period: Period) -> set[int]:
    last = HORIZON + 1 if period.end is None else (period.end - D).days
    return set(range((period.start - D).days, last + 1))


def _runs(days: set[int]) -> set[Period]:
    """The maximal runs of consecutive days, as periods (a run reaching HORIZON + 1 is open)."""
    runs, start = set(), None
    for day in range(-1, HORIZON + 3):
        if day in days and start is None:
            start = day
        elif day not in days and start is not None:
            runs.add(p(start, None if day - 1 == HORIZON + 1 else day - 1))
            start = None
    return runs


days = st.integers(min_value=0, max_value=HORIZON)
phases = st.sampled_from(list(Phase))


@st.composite
def periods(draw):
    start = draw(days)
    end = draw(st.one_of(st.none(), st.integers(min_value=start, max_value=HORIZON)))
    return p(start, end)


changes = st.one_of(
    st.builds(change, st.just("integrate"), phases, periods()),
    st.builds(change, st.just("end"), phases, st.none(), days),
    st.builds(change, st.just("remove"), phases, st.one_of(st.none(), periods())),
)


@given(st.lists(changes, max_size=12))
def test_the_periods_are_the_runs_of_the_days_the_changes_leave(sequence):
    held: set = set()
    model: dict[Phase, set[int]] = {phase: set() for phase in Phase}
    for item in sequence:
        held = periods_after(held, item)
        if item.op == "integrate":
            model[item.phase] |= _days(item.period)
        else:
            removed = (set(range(item.end.toordinal() - D.toordinal() + 1, HORIZON + 2))
                       if item.op == "end" else
                       _days(item.period) if item.period else set(range(-1, HORIZON + 2)))
            for phase in Phase:
                model[phase] -= removed
    for phase in Phase:
        assert {period for ph, period in held if ph == phase} == _runs(model[phase])
