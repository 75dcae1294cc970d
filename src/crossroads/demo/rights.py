"""The demo country's rights engine as a member of the network: its registry, its settings.

The engine (member "rights") integrates every person in its own capacity, reads four services
under its authorizations (purpose AUTOMATIC_RIGHTS), subscribes to the changes that can start or
end a right, and publishes `right.granted.<right>` / `right.ended.<right>`, which the health funds
and the child benefit fund receive for the persons they hold. The register of social benefits and
incomes ("benefits") is the authentic source of the facts the national register does not hold
(their values: demo/household_facts.py).

Some non-take-up is seeded on purpose: the health funds' `preferential_rate` (the increased
reimbursement as the funds apply it today) is drawn independently of the facts, so that some
persons who meet the conditions do not receive it — the scan finds them.
"""

from __future__ import annotations

from datetime import date

from ..domain.mutations import MutationType
from ..domain.registry import Authorization, Capacity, Service
from ..domain.rights import ENDED, GRANTED, Competence, mutation_type
from .country import BY_KEY

PURPOSE = "AUTOMATIC_RIGHTS"
CAPACITY = Capacity("RIGHTS_EXAMINATION", "Examined for the automatic granting of rights")
BASIS = "Law of 15 January 1990 on the Crossroads Bank for Social Security, art. 11bis"
INTEGRATION_RIGHTS = [("rights", CAPACITY.code, BASIS)]
APPLICATIONS = [
    ("rights", "engine-app"),
    ("benefits", "register-app"),
    ("fund_a", "rights-app"),
    ("fund_b", "rights-app"),
    ("economy", "tariff-app"),
]
ENGINE_CLIENT = f"{BY_KEY['rights'].number}:engine-app"

RIGHTS = {
    "increased-reimbursement": "Increased reimbursement",
    "social-energy-tariff": "Social energy tariff",
    "child-social-supplement": "Social supplement to the child benefit",
}

# Each right's competent institution, which the seed puts in the registry (audited, as an
# operator would): the holder in a capacity, or one fixed institution; with the law assigning it.
COMPETENCES = [
    Competence(
        "increased-reimbursement",
        capacity="HEALTH_INSURED",
        legal_basis="Coordinated law of 14 July 1994, art. 37, §19 (the person's health fund)",
    ),
    Competence(
        "social-energy-tariff",
        institution=BY_KEY["economy"].number,
        legal_basis="Law of 29 April 1999, art. 20, §2 (FPS Economy)",
    ),
    Competence(
        "child-social-supplement",
        capacity="CHILD_BENEFICIARY",
        legal_basis="Decree of 27 April 2018 on family benefits, art. 14-16 (the child's fund)",
    ),
]

# The hub's settings for this engine (demo/wiring.py applies them).
SETTINGS = {"rights_engine": ENGINE_CLIENT, "rights_purpose": PURPOSE}

_FLAGS = {
    "type": "object",
    "required": ["integration_income", "income_guarantee_elderly", "disability_allowance"],
    "properties": {
        name: {"type": "boolean"}
        for name in ("integration_income", "income_guarantee_elderly", "disability_allowance")
    },
}


def services() -> list[Service]:
    nr, benefits = BY_KEY["nr"].number, BY_KEY["benefits"].number
    count = {"type": "integer", "minimum": 0, "maximum": 20}
    return [
        Service(
            "household.composition",
            "1",
            "Composition of a person's household",
            ("adults", "children", "child"),
            response_schema={
                "type": "object",
                "required": ["adults", "children", "child"],
                "properties": {"adults": count, "children": count, "child": {"type": "boolean"}},
            },
            provider=nr,
            description=(
                "How many adults and children live at the person's main residence, and whether "
                "the person is one of the children."
            ),
        ),
        Service(
            "social.benefits",
            "1",
            "Social benefits a person receives",
            ("integration_income", "income_guarantee_elderly", "disability_allowance"),
            response_schema=_FLAGS,
            provider=benefits,
        ),
        Service(
            "household.benefits",
            "1",
            "Social benefits the other adults of a person's household receive",
            ("members",),
            response_schema={
                "type": "object",
                "required": ["members"],
                "properties": {"members": {"type": "array", "maxItems": 20, "items": _FLAGS}},
            },
            provider=benefits,
            description=(
                "For each other adult of the person's household, which of the integration "
                "income, the income guarantee for the elderly and a disability allowance they "
                "receive; without their identity."
            ),
        ),
        Service(
            "household.income",
            "1",
            "Gross taxable income of a person's household",
            ("yearly_income", "assessment_year"),
            response_schema={
                "type": "object",
                "required": ["yearly_income"],
                "properties": {
                    "yearly_income": {"type": "number", "minimum": 0},
                    "assessment_year": {"type": "integer"},
                },
            },
            provider=benefits,
        ),
    ]


def authorizations() -> list[Authorization]:
    engine = BY_KEY["rights"].number
    since = date(2024, 1, 1)
    required = (CAPACITY.code,)
    granted = [
        ("ISC/26/702", "household.composition", ("adults", "children", "child")),
        (
            "ISC/26/703",
            "social.benefits",
            ("integration_income", "income_guarantee_elderly", "disability_allowance"),
        ),
        ("ISC/26/704", "household.income", ("yearly_income",)),
        ("ISC/26/705", "directory.holders", ("institution", "capacity")),
        ("ISC/26/706", "household.benefits", ("members",)),
    ]
    return [
        Authorization(reference, engine, service, PURPOSE, BASIS, required, fields, since)
        for reference, service, fields in granted
    ]


def mutation_types() -> list[MutationType]:
    engine, benefits = BY_KEY["rights"].number, BY_KEY["benefits"].number
    decision = {
        "type": "object",
        "required": ["right", "decision", "rule_version"],
        "additionalProperties": False,
        "properties": {
            "right": {"type": "string", "maxLength": 64},
            "decision": {"type": "string", "maxLength": 64},
            "rule_version": {"type": "string", "maxLength": 64},
            "amount": {"type": ["number", "null"]},
            "competent_institution": {"type": ["string", "null"]},
        },
    }
    fields = ("right", "decision", "rule_version", "amount", "competent_institution")
    return [
        *(
            MutationType(
                mutation_type(change, code),
                "1",
                f"{name}: {'granted automatically' if change == GRANTED else 'ended'}",
                engine,
                fields,
                decision,
            )
            for code, name in RIGHTS.items()
            for change in (GRANTED, ENDED)
        ),
        MutationType(
            "benefit.change",
            "1",
            "A social benefit starts or ends",
            benefits,
            ("benefit", "event", "date"),
            {
                "type": "object",
                "required": ["benefit", "event", "date"],
                "additionalProperties": False,
                "properties": {
                    "benefit": {
                        "enum": [
                            "integration_income",
                            "income_guarantee_elderly",
                            "disability_allowance",
                        ]
                    },
                    "event": {"enum": ["start", "end"]},
                    "date": {"type": "string", "format": "date"},
                },
            },
        ),
    ]


def mutation_authorizations() -> list[Authorization]:
    since = date(2024, 1, 1)
    engine = BY_KEY["rights"].number
    found = [
        Authorization(
            f"ISC/26/71{n}",
            engine,
            code,
            PURPOSE,
            BASIS,
            (CAPACITY.code,),
            fields,
            since,
        )
        for n, (code, fields) in enumerate(
            [
                ("benefit.change", ("benefit", "event", "date")),
                ("person.birth", ("child_birth_date",)),
                ("employment.change", ("event", "date")),
            ]
        )
    ]
    health = "Coordinated law of 14 July 1994 on compulsory health care insurance, art. 37, §19"
    family = "Decree of 27 April 2018 on family benefits, art. 14-16"
    receivers = [
        ("fund_a", "increased-reimbursement", "HEALTH_INSURED", "HEALTH_INSURANCE", health),
        ("fund_b", "increased-reimbursement", "HEALTH_INSURED", "HEALTH_INSURANCE", health),
        ("childben", "child-social-supplement", "CHILD_BENEFICIARY", "CHILD_BENEFIT", family),
    ]
    fields = ("right", "decision", "rule_version", "amount", "competent_institution")
    for n, (key, right, capacity, purpose, basis) in enumerate(receivers):
        for m, change in enumerate((GRANTED, ENDED)):
            found.append(
                Authorization(
                    f"ISC/26/72{2 * n + m}",
                    BY_KEY[key].number,
                    mutation_type(change, right),
                    purpose,
                    basis,
                    (capacity,),
                    fields,
                    since,
                )
            )
    return found


BIM, SUPPLEMENT, WEBHOOK = (
    "increased-reimbursement",
    "child-social-supplement",
    "/webhooks/mutations",
)
SUBSCRIPTIONS = [
    ("rights", "engine-app", "benefit.change", PURPOSE, None),
    ("rights", "engine-app", "person.birth", PURPOSE, None),
    ("rights", "engine-app", "employment.change", PURPOSE, None),
    *(
        (fund, "rights-app", mutation_type(change, BIM), "HEALTH_INSURANCE", None)
        for fund in ("fund_a", "fund_b")
        for change in (GRANTED, ENDED)
    ),
    *(
        ("childben", "benefits-app", mutation_type(change, SUPPLEMENT), "CHILD_BENEFIT", WEBHOOK)
        for change in (GRANTED, ENDED)
    ),
]


def directory_lines(subjects: list[str]) -> list[dict]:
    """The engine examines the whole population: it holds everyone in its own capacity."""
    number = BY_KEY["rights"].number
    return [
        {
            "subject": subject,
            "institution": number,
            "capacity": CAPACITY.code,
            "start": "2024-01-01",
        }
        for subject in subjects
    ]
