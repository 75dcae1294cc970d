"""The demo's steady flow of mutations: every one it makes is one the hub would accept."""

from __future__ import annotations

import random
from datetime import date

import jsonschema

from crossroads.demo import country
from crossroads.demo.publisher import next_mutation


def test_every_demo_mutation_fits_its_type_and_comes_from_its_publisher():
    types = {t.code: t for t in country.mutation_types()}
    rng, subjects, seen = random.Random(3), country.persons(50), set()
    for _ in range(500):
        member, kind, body = next_mutation(rng, subjects, date(2026, 11, 23))
        jsonschema.validate(body["payload"], types[kind].schema)
        assert country.BY_KEY[member].number == types[kind].publisher
        assert body["subject"] in subjects and set(body) == {
            "id",
            "subject",
            "effective_date",
            "payload",
        }
        seen.add(kind)
    assert seen == set(types)  # moves, jobs, births and deaths all occur


def test_every_demo_subscription_has_its_authorization():
    decisions = {(a.consumer, a.service, a.purpose) for a in country.mutation_authorizations()}
    for key, _application, kind, purpose, _webhook in country.SUBSCRIPTIONS:
        assert (country.BY_KEY[key].number, kind, purpose) in decisions
