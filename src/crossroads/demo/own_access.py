"""The demo's setting for people's own access to their data: the member the citizen's personal
page asks as, the capacity SELF, the national register's household service, and an OWN_ACCESS
authorization for each service the page shows (identity, address, household, DIMONA periods,
health insurance fund), under the right of access."""

from __future__ import annotations

from datetime import date

from ..domain.own_access import OWN_ACCESS, SELF
from ..domain.registry import Authorization, Capacity, Institution, Service
from . import country

PORTAL = Institution(
    country.enterprise_number(2_000_013), "Crossroads portal (people's own access)", "GOV", None
)
CAPACITY = Capacity(SELF, "The person themselves, signed in")
_BASIS = "GDPR art. 15 (right of access); Law of 15 January 1990 on the CBSS, art. 10"
_SINCE = date(2024, 1, 1)
# (reference, service, fields the person sees: all the service answers)
_LOOK_UPS = [
    (
        "OWN/26/001",
        "person.identity",
        ("name", "first_names", "birth_date", "gender", "nationality"),
    ),
    ("OWN/26/002", "person.address", ("address",)),
    ("OWN/26/003", "person.household", ("members",)),
    ("OWN/26/004", "dimona.periods", ("periods",)),
    ("OWN/26/005", "health.affiliation", ("fund", "since", "preferential_rate")),
]


def services() -> list[Service]:
    return [
        Service(
            "person.household",
            "1",
            "Household composition of a person",
            ("members",),
            response_schema={
                "type": "object",
                "required": ["members"],
                "properties": {"members": {"type": "array", "items": {"type": "object"}}},
            },
            provider=country.BY_KEY["nr"].number,
            description="From the national register: who lives at the person's main residence.",
        )
    ]


def authorizations() -> list[Authorization]:
    return [
        Authorization(
            reference,
            PORTAL.enterprise_number,
            service,
            OWN_ACCESS,
            _BASIS,
            (SELF,),
            fields,
            _SINCE,
        )
        for reference, service, fields in _LOOK_UPS
    ]
