"""When a right starts or ends, who may answer a decision, and what a simulation accepts."""

from __future__ import annotations

import pytest

from crossroads.domain.errors import Refusal
from crossroads.domain.rights import (
    CONFIRMED,
    ENDED,
    GRANTED,
    Decision,
    PersonFacts,
    RuleOutcome,
    Situation,
    change_of,
    check_answer,
)
from crossroads.services.rights_simulation import apply, parse_changes


def outcome(granted: bool) -> RuleOutcome:
    return RuleOutcome("increased-reimbursement", granted, None, "v1", "2026-03", {}, ("law",))


def decision(change: str, status: str = "pending") -> Decision:
    return Decision(
        "d1",
        "85073003328",
        "increased-reimbursement",
        change,
        outcome(True),
        (),
        "0200000439",
        1,
        status,
    )


def test_a_right_starts_when_granted_and_not_held_and_ends_when_no_longer_granted():
    assert change_of(None, outcome(True)) == GRANTED
    assert change_of(None, outcome(False)) is None
    assert change_of(decision(GRANTED), outcome(True)) is None
    assert change_of(decision(GRANTED), outcome(False)) == ENDED
    assert change_of(decision(ENDED), outcome(True)) == GRANTED
    assert change_of(decision(ENDED), outcome(False)) is None


def test_a_refused_grant_is_not_proposed_again_for_the_same_facts():
    assert change_of(decision(GRANTED, "refused"), outcome(True)) is None


def test_only_the_competent_institution_answers_and_only_once():
    check_answer(decision(GRANTED), "0200000439")
    with pytest.raises(Refusal) as other:
        check_answer(decision(GRANTED), "0200000538")
    assert other.value.code == "forbidden"
    with pytest.raises(Refusal) as twice:
        check_answer(decision(GRANTED, CONFIRMED), "0200000439")
    assert twice.value.code == "conflict"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"salary": 1}, "salary"),
        ({"adults": -1}, "adults"),
        ({"children": 21}, "children"),
        ({"children": True}, "children"),
        ({"integration_income": "yes"}, "integration_income"),
        ({"household_income": "much"}, "household_income"),
    ],
)
def test_a_simulation_refuses_what_is_not_a_change_it_knows(body, field):
    with pytest.raises(Refusal) as refused:
        parse_changes(body)
    assert refused.value.code == "malformed_request" and refused.value.field == field


def test_an_income_out_of_range_or_an_empty_household_is_refused():
    with pytest.raises(Refusal):
        Situation((PersonFacts(),), -1.0)
    with pytest.raises(Refusal):
        Situation((), 1.0)


def test_typed_changes_replace_the_read_facts_and_are_marked_as_typed():
    start = Situation((PersonFacts(), PersonFacts()), 40_000.0)
    changed, facts = apply(start, {"children": 2, "household_income": 20_000.0}, ())
    assert changed.household_income == 20_000.0
    assert [m.child for m in changed.members] == [False, False, True, True]
    assert {f.name: f.source for f in facts} == {
        "household_children": "simulation",
        "household_income": "simulation",
    }


def test_a_child_to_come_and_a_job_that_ends_change_the_real_facts_and_keep_the_others_benefits():
    receiving = PersonFacts(disability_allowance=True)
    start = Situation((PersonFacts(), receiving, PersonFacts(child=True)), 30_000.0)
    changed, facts = apply(start, {"children_to_come": 1, "income_ending": 12_000}, ())
    assert [m.child for m in changed.members] == [False, False, True, True]
    assert changed.members[1] == receiving  # the other adult keeps the benefit read for them
    assert changed.household_income == 18_000.0
    fewer, _ = apply(start, {"adults": 1, "income_ending": 50_000}, ())
    assert [m.child for m in fewer.members] == [False, True] and fewer.household_income == 0.0
    assert {f.name for f in facts} == {"children_to_come", "income_ending"}
    with pytest.raises(Refusal):
        parse_changes({"income_ending": -1})
    with pytest.raises(Refusal):
        parse_changes({"children_to_come": 21})
