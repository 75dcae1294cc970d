"""Who is calling the hub: an application of an institution, or the hub's operator.

Every use case is asked on behalf of a caller, and every audit record names one; the token service
(services/auth.py) is only where a caller comes from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """An application of an institution, or the hub's operator (neither names an institution)."""

    institution: str | None
    application: str | None
    operator: bool = False

    @property
    def client_id(self) -> str | None:
        if self.institution and self.application:
            return f"{self.institution}:{self.application}"
        return None


OPERATOR = Caller(institution=None, application=None, operator=True)
