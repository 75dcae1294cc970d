"""A person signed in to the portal on behalf of an organisation: an employer's representative, a
payroll office's clerk, or an institution's staff member.

What they act for and in which role is what the identity provider vouched for, in its claims
(the enterprise or institution number and the role); the portal never takes it from the browser.
An employer's representative declares for their own enterprise; a payroll office's clerk for the
employers that gave the office a mandate (the declarations service checks it on every form).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .callers import Caller
from .errors import Refusal

EMPLOYER, PAYROLL_OFFICE, INSTITUTION = "employer", "payroll_office", "institution"
ENTERPRISE_ROLES = frozenset({EMPLOYER, PAYROLL_OFFICE})
INSTITUTION_ROLES = frozenset({"viewer", "manager"})
_SESSION_FIELDS = ("kind", "organisation", "role", "name", "person")
PORTAL_APPLICATION = "portal"  # what declarations sent from the portal's forms are recorded as


@dataclass(frozen=True)
class Professional:
    """`kind`: employer, payroll_office or institution; `organisation`: its enterprise number;
    `role`: the claim as vouched (for an institution, viewer or manager); `name`: to greet them;
    `person`: the keyed hash (hex) of who signed in, never their number."""

    kind: str
    organisation: str
    role: str
    name: str
    person: str

    @property
    def declares(self) -> bool:
        """Whether they may send declarations (for their enterprise, or under its mandates)."""
        return self.kind in ENTERPRISE_ROLES

    @property
    def caller(self) -> Caller:
        """Who the hub's services see: the organisation, through the portal."""
        return Caller(self.organisation, PORTAL_APPLICATION)

    def as_session(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "organisation": self.organisation,
            "role": self.role,
            "name": self.name,
            "person": self.person,
        }

    @classmethod
    def from_session(cls, held: object) -> Professional | None:
        if not isinstance(held, dict):
            return None
        try:
            return cls(**{k: str(held[k]) for k in _SESSION_FIELDS})
        except KeyError:
            return None


@dataclass(frozen=True)
class ClaimNames:
    """Which ID token claims name the enterprise, the institution and the role (settings)."""

    enterprise: str
    institution: str
    role: str


def professional_from_claims(
    claims: Mapping[str, object],
    names: ClaimNames,
    enterprise_number: Callable[[object, str], str],
    person: str,
) -> Professional:
    """The professional an ID token vouches for, or `unauthenticated` when it names no
    organisation or role the portal knows. `enterprise_number` normalises (and checks) a number."""
    role = claims.get(names.role)
    display = claims.get("name")
    name = display if isinstance(display, str) and display else ""
    if role in ENTERPRISE_ROLES and claims.get(names.enterprise):
        number = _checked(enterprise_number, claims[names.enterprise], names.enterprise)
        return Professional(str(role), number, str(role), name, person)
    if role in INSTITUTION_ROLES and claims.get(names.institution):
        number = _checked(enterprise_number, claims[names.institution], names.institution)
        return Professional(INSTITUTION, number, str(role), name, person)
    raise Refusal(
        "unauthenticated",
        f"the identity provider vouched for no organisation the portal serves: the ID token needs "
        f"{names.role!r} (employer or payroll_office with {names.enterprise!r}; viewer or manager "
        f"with {names.institution!r}).",
    )


def _checked(enterprise_number: Callable[[object, str], str], value: object, claim: str) -> str:
    try:
        return enterprise_number(value, claim)
    except Refusal:
        raise Refusal(
            "unauthenticated",
            f"the identity provider's {claim!r} claim is not a valid enterprise number.",
        ) from None
