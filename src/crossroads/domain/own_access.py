"""A person's access to their own data (GDPR art. 15): the citizen's personal page asks the
authentic sources through the hub, as any exchange, under authorizations of their own kind.

Such an authorization has the purpose `OWN_ACCESS` and requires the capacity `SELF` ("the person
themselves"). The reference directory is not asked who holds the person: that the subject is the
person who signed in is what the identity provider vouched for, and only the citizen's session
(never an application's token) makes such a request. An application that held an `OWN_ACCESS`
authorization would still need the person in the directory in the capacity `SELF`, which no
integration right grants.
"""

from __future__ import annotations

from .errors import Refusal
from .registry import Authorization

OWN_ACCESS = "OWN_ACCESS"
SELF = "SELF"
OWN_ACCESS_APPLICATION = "citizen-portal"  # the application the look-ups are logged under


def check_own_access(authorization: Authorization) -> None:
    """Refuse an authorization that is not one for a person's own access."""
    if authorization.purpose != OWN_ACCESS or SELF not in authorization.required_capacities:
        raise Refusal(
            "no_authorization",
            f"authorization {authorization.reference} is not one for a person's own access "
            f"(purpose {OWN_ACCESS}, capacity {SELF}).",
        )
