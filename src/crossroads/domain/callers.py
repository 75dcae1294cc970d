"""Who is calling the hub: an application of an institution, or one of the hub's operators.

Every use case is asked on behalf of a caller, and every audit record names one; the token service
(services/auth.py) is only where a caller comes from.
"""

from __future__ import annotations

from dataclasses import dataclass

from .operators import ADMIN_TOKEN, Actor


@dataclass(frozen=True)
class Caller:
    """An application of an institution, or one of the hub's operators (`actor`: who, with
    which roles; an operator names no institution)."""

    institution: str | None
    application: str | None
    operator: bool = False
    actor: Actor | None = None

    @classmethod
    def of_operator(cls, actor: Actor) -> Caller:
        return cls(institution=None, application=None, operator=True, actor=actor)

    @property
    def client_id(self) -> str | None:
        if self.institution and self.application:
            return f"{self.institution}:{self.application}"
        return None


OPERATOR = Caller.of_operator(ADMIN_TOKEN)  # the static admin token
