"""The demo's employers and their declarations: an employers' register, a payroll office with
mandates, DIMONA periods for the employed persons, and who may read and be told what."""

from __future__ import annotations

from datetime import date

from ..domain.declarations.mutation_types import mutation_types
from ..domain.registry import Authorization, Service
from . import country

# (enterprise number, NOSS number, name): the employers the payroll office declares for.
EMPLOYERS = [
    (country.enterprise_number(4_100_000 + n), str(1_000_000 + 97 * n), f"Demo Employer {n}")
    for n in range(1, 21)
]
WORKER_TYPES = ("OTH", "OTH", "OTH", "STU", "FLX")

_PERIODS = {
    "type": "object",
    "required": ["periods"],
    "properties": {"periods": {"type": "array", "items": {"type": "object"}}},
}
_QUARTERS = {
    "type": "object",
    "required": ["quarters"],
    "properties": {"quarters": {"type": "array", "items": {"type": "object"}}},
}
_RISKS = {
    "type": "object",
    "required": ["declarations"],
    "properties": {"declarations": {"type": "array", "items": {"type": "object"}}},
}


def services() -> list[Service]:
    nsso = country.BY_KEY["nsso"].number
    return [
        Service(
            "dimona.periods",
            "1",
            "Employment periods declared in DIMONA",
            ("periods",),
            response_schema=_PERIODS,
            provider=nsso,
            description=(
                "From the declarations service: each period with its employer, worker type and"
                " dates."
            ),
        ),
        Service(
            "wages.quarterly",
            "1",
            "Quarterly wages and working time declared in the DmfA",
            ("quarters",),
            response_schema=_QUARTERS,
            provider=nsso,
        ),
        Service(
            "social-risk.declarations",
            "1",
            "Social risks declared by employers",
            ("declarations",),
            response_schema=_RISKS,
            provider=nsso,
        ),
    ]


_SINCE = date(2024, 1, 1)
_BASIS_UNEMPLOYMENT = "Royal Decree of 25 November 1991, art. 138"
_BASIS_WELFARE = "Law of 26 May 2002 on the right to social integration, art. 19"


def authorizations() -> list[Authorization]:
    welfare, unemployment = country.BY_KEY["welfare"].number, country.BY_KEY["unemployment"].number
    since, basis_unemployment, basis_welfare = _SINCE, _BASIS_UNEMPLOYMENT, _BASIS_WELFARE
    return [
        Authorization(
            "ISC/26/501",
            unemployment,
            "dimona.periods",
            "UNEMPLOYMENT_BENEFIT",
            basis_unemployment,
            ("JOB_SEEKER",),
            ("periods",),
            since,
        ),
        Authorization(
            "ISC/26/502",
            unemployment,
            "social-risk.declarations",
            "UNEMPLOYMENT_BENEFIT",
            basis_unemployment,
            ("JOB_SEEKER",),
            ("declarations",),
            since,
        ),
        Authorization(
            "ISC/26/503",
            welfare,
            "wages.quarterly",
            "SOCIAL_INTEGRATION",
            basis_welfare,
            ("SOCIAL_ASSISTANCE",),
            ("quarters.quarter", "quarters.gross_cents", "quarters.days"),
            since,
        ),
    ]


def mutation_authorizations() -> list[Authorization]:
    welfare, unemployment = country.BY_KEY["welfare"].number, country.BY_KEY["unemployment"].number
    since, basis_unemployment, basis_welfare = _SINCE, _BASIS_UNEMPLOYMENT, _BASIS_WELFARE
    return [
        Authorization(
            "ISC/26/511",
            unemployment,
            "employment.ended",
            "UNEMPLOYMENT_BENEFIT",
            basis_unemployment,
            ("JOB_SEEKER",),
            ("employer", "start", "end", "worker_type"),
            since,
        ),
        Authorization(
            "ISC/26/512",
            unemployment,
            "social-risk.declared",
            "UNEMPLOYMENT_BENEFIT",
            basis_unemployment,
            ("JOB_SEEKER",),
            ("scenario", "employer", "last_day_worked", "end_reason", "month", "reason", "days"),
            since,
        ),
        Authorization(
            "ISC/26/513",
            welfare,
            "employment.started",
            "SOCIAL_INTEGRATION",
            basis_welfare,
            ("SOCIAL_ASSISTANCE",),
            ("employer", "start", "worker_type"),
            since,
        ),
    ]


# (member key, application, mutation type, purpose, webhook path or None for the mailbox)
SUBSCRIPTIONS = [
    (
        "unemployment",
        "benefits-app",
        "employment.ended",
        "UNEMPLOYMENT_BENEFIT",
        "/webhooks/mutations",
    ),
    (
        "unemployment",
        "benefits-app",
        "social-risk.declared",
        "UNEMPLOYMENT_BENEFIT",
        "/webhooks/mutations",
    ),
    ("welfare", "case-app", "employment.started", "SOCIAL_INTEGRATION", None),
]


def declaration_mutation_types():
    return mutation_types(country.BY_KEY["nsso"].number)


def dimona_in(subject: str, employer: str, start: date, worker_type: str) -> dict:
    """A DIMONA IN in its JSON form, as the payroll office's software would send it."""
    features = {"WorkerType": worker_type, "JointCommissionNbr": "XXX"}
    form = {
        "StartingDate": start.isoformat(),
        "EmployerId": {"CompanyID": employer},
        "NaturalPerson": {"INSS": subject},
        "DimonaFeatures": features,
    }
    if worker_type == "STU":
        form["PlannedHoursNbr"] = 120
    return {"DimonaIn": form}


def employed(subjects: list[str]) -> list[tuple[str, str, date, str]]:
    """(subject, employer, start, worker type) for about half the adults."""
    out = []
    for index, subject in enumerate(subjects):
        if country.is_child(subject) or index % 2:
            continue
        employer = EMPLOYERS[index % len(EMPLOYERS)][0]
        out.append(
            (
                subject,
                employer,
                date(2025, 1 + index % 12, 1 + index % 28),
                WORKER_TYPES[index % len(WORKER_TYPES)],
            )
        )
    return out
