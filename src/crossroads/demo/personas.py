"""Who one may sign in as at the demo's development identity provider: test citizens, an
employer's representative, a payroll office's clerk, an institution's staff members and an
operator, each with the claims a real identity provider would vouch for.

The claims are the ones the hub reads (docs/portal.md, "Signing in"): `enterprise_number` and
`role` for a person acting for an enterprise, `institution` and `role` for an institution's staff
member, `sub` alone for a citizen (their national number) and for an operator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..templates.i18n import N_
from . import country, employers

CITIZEN, PORTAL, OPERATOR = "citizen", "portal", "operator"  # the hub's sign-in clients
DEMO_OPERATOR = "demo-operator"  # the seed registers person:demo-operator as an admin


@dataclass(frozen=True)
class Persona:
    key: str
    audience: str  # which of the hub's clients offers it: citizen, portal or operator
    label: str  # a message of the catalogues (N_), translated on the page with `label_values`
    subject: str
    claims: dict[str, str] = field(default_factory=dict)
    label_values: dict[str, str] = field(default_factory=dict)


def personas(citizens: list[str]) -> list[Persona]:
    """The personas, the test citizens among them (`citizens`: national numbers of the demo
    country). The professionals are persons too: their `sub` is a national number."""
    first_employer = employers.EMPLOYERS[0]
    payroll = country.BY_KEY["payroll"]
    welfare = country.BY_KEY["welfare"]
    someone = country.persons(1, seed=7)[0]
    found = [
        Persona(f"citizen-{n}", CITIZEN, N_("Citizen %(number)s"), number, {}, {"number": number})
        for n, number in enumerate(citizens, 1)
    ]
    return [
        *found,
        Persona(
            "employer",
            PORTAL,
            N_("Employer's representative of %(name)s (%(number)s)"),
            someone,
            {"enterprise_number": first_employer[0], "role": "employer", "name": "Emma Janssens"},
            {"name": first_employer[2], "number": first_employer[0]},
        ),
        Persona(
            "payroll-office",
            PORTAL,
            N_("Payroll office's clerk at %(name)s (%(number)s)"),
            someone,
            {"enterprise_number": payroll.number, "role": "payroll_office", "name": "Paul Peeters"},
            {"name": payroll.name, "number": payroll.number},
        ),
        Persona(
            "institution-manager",
            PORTAL,
            N_("Staff member (manager) of %(name)s (%(number)s)"),
            someone,
            {"institution": welfare.number, "role": "manager", "name": "Ines Dubois"},
            {"name": welfare.name, "number": welfare.number},
        ),
        Persona(
            "institution-viewer",
            PORTAL,
            N_("Staff member (viewer) of %(name)s (%(number)s)"),
            someone,
            {"institution": welfare.number, "role": "viewer", "name": "Victor Maes"},
            {"name": welfare.name, "number": welfare.number},
        ),
        Persona("operator", OPERATOR, N_("The hub's operator (admin)"), DEMO_OPERATOR),
    ]
