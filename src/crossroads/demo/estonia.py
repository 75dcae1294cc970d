"""The demo's Estonian country: the institutions of the Belgian one (demo/country.py) under
Estonian registry codes and names, persons with an isikukood, Estonian names and towns. A hub
seeded with it runs under `CROSSROADS_COUNTRY=EE` (`crossroads demo --second-hub` starts one as
hub B, docs/federation.md).

The numbers are made as python-stdnum checks them (`stdnum.ee.ik`, `stdnum.ee.registrikood`): the
same weighted modulo-11 check digit for both.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from stdnum.ee import ik

from . import country
from .people import DemoCountry


def registry_code(base: int) -> str:
    """A valid registrikood from a base number: a state institution's (first digit 7) below
    3,000,000, as the demo's members are, a company's (first digit 1) above, as its employers."""
    body = f"{7 if base < 3_000_000 else 1}{base % 1_000_000:06d}"
    return body + ik.calc_check_digit(body + "0")


def isikukood(birth: date, serial: int) -> str:
    """A valid isikukood for a birth date and a daily serial: the first digit gives the century
    and the sex (odd for men), taken here from the serial's parity."""
    first = (3 if birth.year < 2000 else 5) + (0 if serial % 2 else 1)
    body = f"{first}{birth:%y%m%d}{serial:03d}"
    return body + ik.calc_check_digit(body + "0")


_NAMES = {
    "nr": "Population Register (Rahvastikuregister)",
    "employment": "Employment Register (Töötamise register)",
    "unemployment": "Unemployment Insurance Fund (Töötukassa)",
    "fund_a": "Health Insurance Fund, Tallinn office",
    "fund_b": "Health Insurance Fund, Tartu office",
    "childben": "Social Insurance Board (family benefits)",
    "welfare": "Social Welfare Department of Tartu",
    "nsso": "Tax and Customs Board (declarations)",
    "payroll": "Demopalk payroll office",
    "rights": "Rights engine (automatic granting)",
    "benefits": "Social Services and Benefits Register (STAR)",
    "economy": "Ministry of Economic Affairs",
}

ESTONIA = DemoCountry(
    code="EE",
    enterprise_number=registry_code,
    person_number=isikukood,
    birth_date=ik.get_birth_date,
    is_male=lambda subject: int(subject[0]) % 2 == 1,
    # The Belgian members' base numbers are the first eight digits of their enterprise numbers.
    members=tuple(
        replace(m, number=registry_code(int(m.number[:8])), name=_NAMES[m.key])
        for m in country.MEMBERS
    ),
    surnames=(
        "Tamm",
        "Saar",
        "Sepp",
        "Mägi",
        "Kask",
        "Kukk",
        "Rebane",
        "Ilves",
        "Pärn",
        "Koppel",
        "Lepik",
        "Oja",
        "Kallas",
        "Luik",
        "Lepp",
        "Vaher",
    ),
    given_names=(
        "Mari",
        "Jaan",
        "Liis",
        "Mihkel",
        "Kadri",
        "Rasmus",
        "Laura",
        "Martin",
        "Sofia",
        "Oliver",
        "Anna",
        "Markus",
    ),
    streets=("Rüütli", "Pikk", "Tartu maantee", "Narva maantee", "Vabaduse puiestee", "Riia"),
    towns=(
        ("10111", "Tallinn"),
        ("51003", "Tartu"),
        ("80010", "Pärnu"),
        ("20308", "Narva"),
        ("41531", "Jõhvi"),
    ),
)

COUNTRIES = {c.code: c for c in (country.BELGIUM, ESTONIA)}


def demo_country(code: str) -> DemoCountry:
    """The demo country a hub of `CROSSROADS_COUNTRY=code` is seeded with."""
    try:
        return COUNTRIES[code.upper()]
    except KeyError:
        raise ValueError(f"the demo has no country {code!r}; it has {sorted(COUNTRIES)}") from None
