"""The demo's statistics analyst (docs/statistics.md): the National Employment Office's
application, authorized for the built-in service `statistics.aggregates` for one project, so that
`crossroads statistics ask` works against the demo as the docs print it.

An analyst's authorization needs no capacity (no person is looked up); its purpose is the
project, its allowed fields the marts the project may read.
"""

from __future__ import annotations

from datetime import date

from ..domain.registry import Authorization
from ..services.registry_checks import STATISTICS_SERVICE
from . import country

PROJECT = "EMPLOYMENT_POLICY_2026"
APPLICATION = ("unemployment", "benefits-app")  # one of the demo's applications, with its key


def client_id() -> str:
    member, application = APPLICATION
    return f"{country.BY_KEY[member].number}:{application}"


def authorizations() -> list[Authorization]:
    return [
        Authorization(
            "ISC/26/801",
            country.BY_KEY[APPLICATION[0]].number,
            STATISTICS_SERVICE,
            PROJECT,
            "Law of 4 July 1962 on public statistics, art. 24quinquies (study of the labour "
            "market for the employment policy)",
            (),
            ("employment", "jobs", "exchanges"),
            date(2026, 1, 1),
        )
    ]
