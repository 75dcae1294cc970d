"""The demo country's rules as OpenFisca code: what each right grants, by which dated
parameters, and that the vectorised scan decides exactly as one-by-one decisions do."""

from __future__ import annotations

from datetime import date

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossroads.adapters.openfisca_country.rules import OpenFiscaRules
from crossroads.domain.errors import Refusal
from crossroads.domain.rights import PersonFacts, Situation
from crossroads.services.ports import Population

RULES = OpenFiscaRules()
MARCH_2026 = date(2026, 3, 1)
ADULT, CHILD = PersonFacts(), PersonFacts(child=True)


def decide(situation: Situation, month: date = MARCH_2026) -> dict:
    [outcomes] = RULES.decide([situation], month)
    return {o.right: o for o in outcomes}


@pytest.mark.parametrize(
    "category", ["integration_income", "income_guarantee_elderly", "disability_allowance"]
)
def test_a_benefit_of_the_automatic_categories_grants_reimbursement_and_energy_at_any_income(
    category,
):
    rich = Situation((PersonFacts(**{category: True}),), 90_000.0)
    found = decide(rich)
    assert found["increased-reimbursement"].granted
    assert found["social-energy-tariff"].granted
    assert not decide(Situation((ADULT,), 90_000.0))["increased-reimbursement"].granted


def test_the_income_ceiling_grows_with_each_member_of_the_household():
    # 2026: 25,794.82 for one, + 4,775.50 for each further member
    assert decide(Situation((ADULT,), 25_794.82))["increased-reimbursement"].granted
    assert not decide(Situation((ADULT,), 25_794.83))["increased-reimbursement"].granted
    couple = (ADULT, ADULT)
    assert decide(Situation(couple, 30_570.32))["increased-reimbursement"].granted
    assert not decide(Situation(couple, 30_570.33))["increased-reimbursement"].granted


def test_a_decision_records_the_rule_version_and_the_parameter_values_of_its_month():
    in_2025 = decide(Situation((ADULT,), 25_500.0), date(2025, 6, 1))["increased-reimbursement"]
    in_2026 = decide(Situation((ADULT,), 25_500.0), MARCH_2026)["increased-reimbursement"]
    assert in_2025.parameters["increased_reimbursement.income_ceiling"] == 25_166.13
    assert in_2026.parameters["increased_reimbursement.income_ceiling"] == 25_794.82
    assert (in_2025.granted, in_2026.granted) == (False, True)  # the threshold moved, not the rule
    assert in_2026.rule_version == RULES.version and in_2026.month == "2026-03"
    assert any("14 July 1994" in basis for basis in in_2026.legal_basis)


def test_the_energy_tariffs_extension_to_reimbursement_holds_only_in_its_dated_window():
    # Under the ceiling by income alone: the tariff followed until June 2023, then no more.
    modest = Situation((ADULT,), 20_000.0)
    assert decide(modest, date(2023, 6, 1))["social-energy-tariff"].granted
    assert not decide(modest, date(2023, 7, 1))["social-energy-tariff"].granted
    assert decide(modest, date(2023, 7, 1))["increased-reimbursement"].granted


def test_the_child_supplement_goes_to_children_by_family_size_under_the_ceiling():
    small = decide(Situation((CHILD, ADULT, CHILD), 30_000.0))["child-social-supplement"]
    large = decide(Situation((CHILD, ADULT, CHILD, CHILD), 30_000.0))["child-social-supplement"]
    assert (small.granted, small.amount) == (True, 67.2)
    assert (large.granted, large.amount) == (True, 100.8)
    parent = decide(Situation((ADULT, CHILD), 30_000.0))["child-social-supplement"]
    assert (parent.granted, parent.amount) == (False, 0.0)
    too_rich = decide(Situation((CHILD, ADULT), 40_000.0))["child-social-supplement"]
    assert not too_rich.granted


def test_a_month_before_the_rules_first_parameters_is_refused_not_guessed():
    with pytest.raises(Refusal) as refused:
        decide(Situation((ADULT,), 1.0), date(2022, 12, 1))
    assert refused.value.code == "malformed_request" and refused.value.field == "month"


def test_every_right_names_its_legal_bases_and_dated_parameters():
    for right in RULES.rights():
        assert right["legal_basis"], right["code"]
        for parameter in right["parameters"].values():
            assert parameter["reference"] and parameter["values"]


members = st.lists(
    st.builds(
        PersonFacts,
        child=st.booleans(),
        integration_income=st.booleans(),
        income_guarantee_elderly=st.booleans(),
        disability_allowance=st.booleans(),
    ),
    min_size=1,
    max_size=6,
)
situations = st.builds(
    Situation, members.map(tuple), st.floats(0, 120_000, allow_nan=False, allow_infinity=False)
)


@settings(max_examples=40, deadline=None)
@given(st.lists(situations, min_size=1, max_size=30))
def test_deciding_many_situations_at_once_equals_deciding_each_alone(many):
    together = RULES.decide(many, MARCH_2026)
    alone = [RULES.decide([s], MARCH_2026)[0] for s in many]
    assert together == alone


def test_the_population_scan_decides_every_member_as_a_decision_about_them_would():
    rng = numpy.random.default_rng(7)
    persons, households = 5_000, 2_000
    household = numpy.sort(rng.integers(0, households, persons))
    household = numpy.unique(household, return_inverse=True)[1]  # no empty household
    count = household.max() + 1
    flags = rng.random((persons, 3)) < 0.05
    child = rng.random(persons) < 0.3
    income = rng.uniform(0, 60_000, count)
    scanned = RULES.scan(
        Population(household, child, flags[:, 0], flags[:, 1], flags[:, 2], income), MARCH_2026
    )
    for person in rng.choice(persons, 40, replace=False):
        mates = [i for i in range(persons) if household[i] == household[person] and i != person]
        as_facts = [
            PersonFacts(bool(child[i]), *(bool(f) for f in flags[i])) for i in [person, *mates]
        ]
        found = decide(Situation(tuple(as_facts), float(income[household[person]])))
        for right, outcome in found.items():
            value = scanned[right][person]
            assert outcome.granted == bool(value > 0), (right, person)
