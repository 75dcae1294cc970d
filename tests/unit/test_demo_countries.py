"""The demo's two countries: every number passes its scheme, the same seed makes the same
people, and the Estonian country has the Belgian one's institutions under its own numbers."""

from __future__ import annotations

from crossroads.demo import country
from crossroads.demo.estonia import ESTONIA, demo_country
from crossroads.demo.federation import border_pairs
from crossroads.domain.identifiers import scheme_for


def test_each_demo_country_numbers_its_people_and_institutions_by_its_own_scheme():
    for land in (country.BELGIUM, ESTONIA):
        scheme = scheme_for(land.code)
        people = land.persons(500)
        assert len(set(people)) == 500 and people == land.persons(500)
        assert all(scheme.normalise_person(p) == p for p in people)
        assert all(scheme.normalise_enterprise(m.number) == m.number for m in land.members)
        employers = {p["employer"] for s in people for p in land.employment(s)["periods"]}
        assert employers and all(scheme.enterprise_is_valid(e) for e in employers)
        assert 0.1 < sum(land.is_child(p) for p in people) / 500 < 0.3


def test_the_estonian_country_has_the_belgian_institutions_under_registry_codes():
    assert demo_country("ee") is ESTONIA and demo_country("BE") is country.BELGIUM
    assert [m.key for m in ESTONIA.members] == [m.key for m in country.MEMBERS]
    assert not {m.number for m in ESTONIA.members} & {m.number for m in country.MEMBERS}
    someone = ESTONIA.persons(1)[0]
    identity = ESTONIA.identity(someone)
    assert identity["nationality"] == "EE" and identity["name"] in ESTONIA.surnames
    assert identity["birth_date"] == ESTONIA.birth_date(someone).isoformat()
    assert ESTONIA.address(someone)["address"]["country"] == "EE"
    assert not ESTONIA.declarations_and_rights and country.BELGIUM.declarations_and_rights


def test_the_persons_across_the_border_are_held_by_both_welfare_offices():
    pairs = border_pairs(country.BELGIUM, ESTONIA, 300, 5)
    assert len(pairs) == 5
    assert {mine for mine, _ in pairs} <= set(
        country.BELGIUM.held_by(country.persons(300), "welfare")
    )
    assert {theirs for _, theirs in pairs} <= set(ESTONIA.held_by(ESTONIA.persons(300), "welfare"))
