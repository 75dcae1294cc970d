"""Registry decisions: when an authorization is valid."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from crossroads.domain.periods import Period
from crossroads.domain.registry import Authorization

days = st.integers(0, 100).map(lambda n: date(2024, 1, 1) + timedelta(days=n))


@given(start=days, length=st.one_of(st.none(), st.integers(0, 50)), day=days)
def test_valid_on_a_day_is_the_validity_period_covering_that_day(start, length, day):
    end = None if length is None else start + timedelta(days=length)
    decision = Authorization("A", "0200000142", "s", "P", "law", ("C",), ("f",), start, end)
    assert decision.is_valid_on(day) == decision.validity.covers(Period.day(day))
