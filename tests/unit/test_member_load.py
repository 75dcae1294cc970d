"""MemberLoad: each institution's places, given back however the block ends; a refused member is
logged at most once a minute, each institution on its own."""

from __future__ import annotations

import logging

import pytest

from crossroads.domain.errors import Refusal
from crossroads.services.member_load import MemberLoad


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_each_institution_has_its_own_places_given_back_on_any_end():
    load = MemberLoad(2)
    with load.admitted("A"), load.admitted("A"):
        with pytest.raises(Refusal) as refused, load.admitted("A"):
            pass
        assert refused.value.code == "member_busy" and refused.value.status == 429
        assert "CROSSROADS_MEMBER_CONCURRENCY" in refused.value.message
        with load.admitted("B"):  # another member is not touched by A's places
            assert load.in_flight("B") == 1
        assert load.in_flight("A") == 2
    with pytest.raises(RuntimeError), load.admitted("A"):
        raise RuntimeError("the exchange failed")
    assert load.in_flight("A") == load.in_flight("B") == 0


def test_a_caller_of_no_institution_is_not_counted():
    load = MemberLoad(1)
    with load.admitted(None), load.admitted(None):
        pass


def test_a_refused_member_is_logged_once_a_minute(caplog):
    clock = Clock()
    load = MemberLoad(1, clock)

    def refuse(institution: str) -> None:
        with load.admitted(institution), pytest.raises(Refusal), load.admitted(institution):
            pass

    with caplog.at_level(logging.WARNING, logger="crossroads.exchange"):
        for _ in range(5):
            refuse("A")
        refuse("B")
        clock.now += 59
        refuse("A")
        clock.now += 2
        refuse("A")
    named = [r.getMessage().split()[1] for r in caplog.records]
    assert named == ["A", "B", "A"]


def test_the_limit_is_at_least_one():
    with pytest.raises(ValueError):
        MemberLoad(0)
