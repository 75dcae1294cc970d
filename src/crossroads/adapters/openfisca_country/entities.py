"""The OpenFisca entities of the demo country: persons, grouped into households.

A household is the unit the income tests read (the gross taxable income of everyone who lives
together, as the national register's household composition says); a person is who a right is
granted to.
"""

from __future__ import annotations

from openfisca_core.entities import build_entity

Person = build_entity(
    key="person",
    plural="persons",
    label="A person",
    doc="A person whom a right may be granted to.",
    is_person=True,
)

Household = build_entity(
    key="household",
    plural="households",
    label="A household",
    doc="The persons who live together at one main residence (the national register's household).",
    roles=[
        {"key": "adult", "plural": "adults", "label": "Adult"},
        {"key": "child", "plural": "children", "label": "Child"},
    ],
)

ENTITIES = [Household, Person]
