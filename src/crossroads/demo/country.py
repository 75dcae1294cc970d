"""The demo's Belgian country: valid identifiers, institutions, capacities, services,
authorizations, files (its persons and what its sources say of them: demo/people.py).

The registry's parts (services, authorizations, mutation types) name the institutions of the
country they are given (`by_key`), Belgium's by default: the Estonian country (demo/estonia.py) has
the same institutions under its own numbers.
"""

from __future__ import annotations

from datetime import date

from ..domain.mutations import MutationType
from ..domain.registry import Authorization, Capacity, Service
from .people import DemoCountry, Member


def enterprise_number(base: int) -> str:
    """A valid KBO/BCE number from an 8-digit base (check digits: 97 - base mod 97)."""
    return f"{base:08d}{97 - base % 97:02d}"


def national_number(birth: date, serial: int) -> str:
    """A valid INSZ/NISS national register number for a birth date and a daily serial."""
    body = f"{birth:%y%m%d}{serial:03d}"
    checked = int(("2" if birth.year >= 2000 else "") + body)
    return f"{body}{97 - checked % 97:02d}"


MEMBERS = [
    Member("nr", enterprise_number(2_000_001), "National Register", 1),
    Member("employment", enterprise_number(2_000_002), "Employment Register (NSSO)", 2),
    Member("unemployment", enterprise_number(2_000_003), "National Employment Office", 3),
    Member("fund_a", enterprise_number(2_000_004), "Health Insurance Fund A", 4),
    Member("fund_b", enterprise_number(2_000_005), "Health Insurance Fund B", 5),
    Member("childben", enterprise_number(2_000_006), "Child Benefit Fund", 6),
    Member("welfare", enterprise_number(2_000_007), "Public Social Welfare Centre of Demoville"),
    Member(
        "nsso",
        enterprise_number(2_000_008),
        "National Social Security Office (declarations)",
        served_by_hub=True,
    ),
    Member("payroll", enterprise_number(2_000_009), "Demopay payroll office"),
    # The rights engine (a member like the others: demo/rights.py) and the register of social
    # benefits and household incomes whose facts it reads.
    Member("rights", enterprise_number(2_000_010), "Rights engine (automatic granting)"),
    Member("benefits", enterprise_number(2_000_011), "Social Benefits and Income Register", 7),
    Member("economy", enterprise_number(2_000_012), "FPS Economy (social energy tariff)"),
]
BY_KEY = {m.key: m for m in MEMBERS}

CAPACITIES = [
    Capacity("HEALTH_INSURED", "Affiliated with a health insurance fund"),
    Capacity("JOB_SEEKER", "Registered job seeker"),
    Capacity("CHILD_BENEFICIARY", "Child giving right to child benefit"),
    Capacity("SOCIAL_ASSISTANCE", "Receives social assistance"),
]

# Which member may integrate persons in which capacity, and by which law (its integration rights).
INTEGRATION_RIGHTS = [
    (
        "fund_a",
        "HEALTH_INSURED",
        "Coordinated law of 14 July 1994 on compulsory health care insurance",
    ),
    (
        "fund_b",
        "HEALTH_INSURED",
        "Coordinated law of 14 July 1994 on compulsory health care insurance",
    ),
    ("unemployment", "JOB_SEEKER", "Royal Decree of 25 November 1991 on unemployment"),
    ("childben", "CHILD_BENEFICIARY", "Decree of 27 April 2018 on family benefits"),
    ("welfare", "SOCIAL_ASSISTANCE", "Law of 26 May 2002 on the right to social integration"),
]
# Who provides the services routed per person (the health funds answer health.affiliation).
ROUTED_PROVIDERS = [("health.affiliation", "fund_a"), ("health.affiliation", "fund_b")]

_DATE = {"type": "string", "format": "date"}
_PERIODS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "employer": {"type": "string"},
            "start": _DATE,
            "end": {"type": ["string", "null"]},
            "joint_committee": {"type": "string"},
        },
    },
}


def services(by_key: dict[str, Member] | None = None) -> list[Service]:
    m = by_key or BY_KEY
    return [
        Service(
            "person.identity",
            "1",
            "Identity of a person",
            ("name", "first_names", "birth_date", "gender", "nationality", "death_date"),
            response_schema={
                "type": "object",
                "required": ["name", "birth_date"],
                "properties": {
                    "name": {"type": "string"},
                    "first_names": {"type": "array", "items": {"type": "string"}},
                    "birth_date": _DATE,
                    "gender": {"enum": ["M", "F", "X"]},
                    "nationality": {"type": "string"},
                    "death_date": {"type": ["string", "null"]},
                },
            },
            provider=m["nr"].number,
            description="From the national register.",
        ),
        Service(
            "person.address",
            "1",
            "Main residence of a person",
            ("address",),
            response_schema={
                "type": "object",
                "required": ["address"],
                "properties": {"address": {"type": "object"}},
            },
            provider=m["nr"].number,
        ),
        Service(
            "employment.periods",
            "1",
            "Periods of employment",
            ("periods",),
            response_schema={
                "type": "object",
                "required": ["periods"],
                "properties": {"periods": _PERIODS},
            },
            provider=m["employment"].number,
        ),
        Service(
            "unemployment.status",
            "1",
            "Unemployment benefit status",
            ("status", "since", "daily_amount"),
            response_schema={
                "type": "object",
                "required": ["status"],
                "properties": {
                    "status": {"enum": ["none", "full", "partial"]},
                    "since": {"type": ["string", "null"]},
                    "daily_amount": {"type": ["number", "null"]},
                },
            },
            provider=m["unemployment"].number,
        ),
        Service(
            "health.affiliation",
            "1",
            "Health insurance affiliation",
            ("fund", "since", "preferential_rate"),
            response_schema={
                "type": "object",
                "required": ["fund"],
                "properties": {
                    "fund": {"type": "string"},
                    "since": _DATE,
                    "preferential_rate": {"type": "boolean"},
                },
            },
            routed_capacity="HEALTH_INSURED",
            description="Routed per person to the fund the person is affiliated with.",
        ),
        Service(
            "childbenefit.entitlement",
            "1",
            "Child benefit entitlement",
            ("entitled", "monthly_amount"),
            response_schema={
                "type": "object",
                "required": ["entitled"],
                "properties": {
                    "entitled": {"type": "boolean"},
                    "monthly_amount": {"type": "number"},
                },
            },
            provider=m["childben"].number,
        ),
    ]


def authorizations(by_key: dict[str, Member] | None = None) -> list[Authorization]:
    m = by_key or BY_KEY
    welfare, unemployment, childben = (
        m["welfare"].number,
        m["unemployment"].number,
        m["childben"].number,
    )
    since = date(2024, 1, 1)
    basis_welfare = "Law of 26 May 2002 on the right to social integration, art. 19"
    return [
        Authorization(
            "ISC/24/101",
            welfare,
            "person.identity",
            "SOCIAL_INTEGRATION",
            basis_welfare,
            ("SOCIAL_ASSISTANCE",),
            ("name", "first_names", "birth_date"),
            since,
        ),
        Authorization(
            "ISC/24/102",
            welfare,
            "person.address",
            "SOCIAL_INTEGRATION",
            basis_welfare,
            ("SOCIAL_ASSISTANCE",),
            ("address",),
            since,
        ),
        Authorization(
            "ISC/24/103",
            welfare,
            "employment.periods",
            "SOCIAL_INTEGRATION",
            basis_welfare,
            ("SOCIAL_ASSISTANCE",),
            ("periods.start", "periods.end", "periods.employer"),
            since,
        ),
        Authorization(
            "ISC/24/104",
            welfare,
            "unemployment.status",
            "SOCIAL_INTEGRATION",
            basis_welfare,
            ("SOCIAL_ASSISTANCE",),
            ("status", "since"),
            since,
        ),
        Authorization(
            "ISC/24/105",
            welfare,
            "health.affiliation",
            "SOCIAL_INTEGRATION",
            basis_welfare,
            ("SOCIAL_ASSISTANCE",),
            ("fund", "preferential_rate"),
            since,
        ),
        Authorization(
            "ISC/24/106",
            welfare,
            "directory.holders",
            "SOCIAL_INTEGRATION",
            basis_welfare,
            ("SOCIAL_ASSISTANCE",),
            ("institution", "capacity"),
            since,
        ),
        Authorization(
            "ISC/24/201",
            unemployment,
            "employment.periods",
            "UNEMPLOYMENT_BENEFIT",
            "Royal Decree of 25 November 1991, art. 138",
            ("JOB_SEEKER",),
            ("periods",),
            since,
        ),
        Authorization(
            "ISC/24/301",
            childben,
            "person.identity",
            "CHILD_BENEFIT",
            "Decree of 27 April 2018 on family benefits",
            ("CHILD_BENEFICIARY",),
            ("name", "birth_date"),
            since,
            date(2025, 12, 31),
        ),
        Authorization(
            "ISC/26/301",
            childben,
            "person.identity",
            "CHILD_BENEFIT",
            "Decree of 27 April 2018 on family benefits",
            ("CHILD_BENEFICIARY",),
            ("name", "birth_date"),
            date(2026, 1, 1),
        ),
    ]


# Which institution uses which application in the demo: (member key, application code). The two
# registers' applications publish mutations.
APPLICATIONS = [
    ("welfare", "case-app"),
    ("unemployment", "benefits-app"),
    ("childben", "benefits-app"),
    ("nr", "register-app"),
    ("employment", "register-app"),
    ("payroll", "payroll-app"),
]


def mutation_types(by_key: dict[str, Member] | None = None) -> list[MutationType]:
    """What the demo's authentic sources publish: moves, births (about the parent), deaths, jobs."""
    m = by_key or BY_KEY
    nr, employment = m["nr"].number, m["employment"].number
    text = {"type": "string", "maxLength": 200}
    return [
        MutationType(
            "person.address-change",
            "1",
            "Change of main residence",
            nr,
            ("street", "postcode", "city"),
            {
                "type": "object",
                "required": ["city"],
                "additionalProperties": False,
                "properties": {"street": text, "postcode": text, "city": text},
            },
            state_path="/mutations/person.address-change/1/state",
        ),
        MutationType(
            "person.birth",
            "1",
            "Birth of a child (about each parent)",
            nr,
            ("child_birth_date",),
            {
                "type": "object",
                "required": ["child_birth_date"],
                "additionalProperties": False,
                "properties": {"child_birth_date": _DATE},
            },
        ),
        MutationType(
            "person.death",
            "1",
            "Death",
            nr,
            ("date_of_death",),
            {
                "type": "object",
                "required": ["date_of_death"],
                "additionalProperties": False,
                "properties": {"date_of_death": _DATE},
            },
        ),
        MutationType(
            "employment.change",
            "1",
            "Start or end of an employment",
            employment,
            ("event", "employer", "date", "joint_committee"),
            {
                "type": "object",
                "required": ["event", "employer", "date"],
                "additionalProperties": False,
                "properties": {
                    "event": {"enum": ["start", "end"]},
                    "employer": text,
                    "date": _DATE,
                    "joint_committee": text,
                },
            },
        ),
    ]


def mutation_authorizations(by_key: dict[str, Member] | None = None) -> list[Authorization]:
    """Who may be told what (authorizations whose service is a mutation type)."""
    m = by_key or BY_KEY
    welfare, unemployment, childben = (
        m["welfare"].number,
        m["unemployment"].number,
        m["childben"].number,
    )
    since = date(2024, 1, 1)
    basis_welfare = "Law of 26 May 2002 on the right to social integration, art. 19"
    basis_unemployment = "Royal Decree of 25 November 1991, art. 138"
    return [
        Authorization(
            "ISC/25/401",
            welfare,
            "person.address-change",
            "SOCIAL_INTEGRATION",
            basis_welfare,
            ("SOCIAL_ASSISTANCE",),
            ("street", "postcode", "city"),
            since,
        ),
        Authorization(
            "ISC/25/402",
            welfare,
            "person.birth",
            "SOCIAL_INTEGRATION",
            basis_welfare,
            ("SOCIAL_ASSISTANCE",),
            ("child_birth_date",),
            since,
        ),
        Authorization(
            "ISC/25/403",
            welfare,
            "person.death",
            "SOCIAL_INTEGRATION",
            basis_welfare,
            ("SOCIAL_ASSISTANCE",),
            ("date_of_death",),
            since,
        ),
        Authorization(
            "ISC/25/404",
            welfare,
            "employment.change",
            "SOCIAL_INTEGRATION",
            basis_welfare,
            ("SOCIAL_ASSISTANCE",),
            ("event", "employer", "date"),
            since,
        ),
        Authorization(
            "ISC/25/411",
            unemployment,
            "employment.change",
            "UNEMPLOYMENT_BENEFIT",
            basis_unemployment,
            ("JOB_SEEKER",),
            ("event", "employer", "date", "joint_committee"),
            since,
        ),
        Authorization(
            "ISC/25/412",
            unemployment,
            "person.address-change",
            "UNEMPLOYMENT_BENEFIT",
            basis_unemployment,
            ("JOB_SEEKER",),
            ("postcode", "city"),
            since,
        ),
        Authorization(
            "ISC/25/413",
            unemployment,
            "person.death",
            "UNEMPLOYMENT_BENEFIT",
            basis_unemployment,
            ("JOB_SEEKER",),
            ("date_of_death",),
            since,
        ),
        Authorization(
            "ISC/25/421",
            childben,
            "person.death",
            "CHILD_BENEFIT",
            "Decree of 27 April 2018 on family benefits",
            ("CHILD_BENEFICIARY",),
            ("date_of_death",),
            since,
        ),
    ]


# Who subscribes to what: (member key, application, mutation type, purpose, webhook path or None
# for the mailbox). The webhooks are served by the institutions' own apps (demo/sources.py).
SUBSCRIPTIONS = [
    ("welfare", "case-app", "person.address-change", "SOCIAL_INTEGRATION", None),
    ("welfare", "case-app", "person.birth", "SOCIAL_INTEGRATION", None),
    ("welfare", "case-app", "person.death", "SOCIAL_INTEGRATION", None),
    ("welfare", "case-app", "employment.change", "SOCIAL_INTEGRATION", None),
    (
        "unemployment",
        "benefits-app",
        "employment.change",
        "UNEMPLOYMENT_BENEFIT",
        "/webhooks/mutations",
    ),
    (
        "unemployment",
        "benefits-app",
        "person.address-change",
        "UNEMPLOYMENT_BENEFIT",
        "/webhooks/mutations",
    ),
    ("unemployment", "benefits-app", "person.death", "UNEMPLOYMENT_BENEFIT", "/webhooks/mutations"),
    ("childben", "benefits-app", "person.death", "CHILD_BENEFIT", "/webhooks/mutations"),
]


def birth_date(subject: str) -> date:
    yy, mm, dd = int(subject[0:2]), int(subject[2:4]), int(subject[4:6])
    checked = int(subject[:9])
    year = 1900 + yy if 97 - checked % 97 == int(subject[9:]) else 2000 + yy
    return date(year, mm, dd)


BELGIUM = DemoCountry(
    code="BE",
    enterprise_number=enterprise_number,
    person_number=national_number,
    birth_date=birth_date,
    is_male=lambda subject: int(subject[6:9]) % 2 == 1,  # the serial: odd for men
    members=tuple(MEMBERS),
    surnames=(
        "Peeters",
        "Janssens",
        "Maes",
        "Jacobs",
        "Mertens",
        "Willems",
        "Claes",
        "Goossens",
        "Wouters",
        "Dubois",
        "Lambert",
        "Dupont",
        "Martin",
        "Simon",
        "Laurent",
        "Leclercq",
    ),
    given_names=(
        "Emma",
        "Louis",
        "Olivia",
        "Arthur",
        "Lina",
        "Noah",
        "Mila",
        "Jules",
        "Elena",
        "Adam",
        "Marie",
        "Lucas",
    ),
    streets=(
        "Kerkstraat",
        "Rue de la Station",
        "Stationsstraat",
        "Rue du Moulin",
        "Dorpsstraat",
        "Grand-Place",
    ),
    towns=(
        ("1000", "Brussel"),
        ("2000", "Antwerpen"),
        ("9000", "Gent"),
        ("4000", "Liège"),
        ("5000", "Namur"),
    ),
    declarations_and_rights=True,
)

# The Belgian country's persons and sources, as the rest of the demo and its tests read them.
persons = BELGIUM.persons
is_child = BELGIUM.is_child
directory_lines = BELGIUM.directory_lines
identity = BELGIUM.identity
current_address = BELGIUM.current_address
address = BELGIUM.address
household = BELGIUM.household
employment = BELGIUM.employment
unemployment = BELGIUM.unemployment
affiliation = BELGIUM.affiliation
child_benefit = BELGIUM.child_benefit
