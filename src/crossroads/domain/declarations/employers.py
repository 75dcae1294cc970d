"""Employers as the declarations know them: the register's entry, and the reference a form makes.

DIMONA, DmfA and social-risk declarations all name an employer the same way (NOSS registration
number, enterprise number, or both) and are checked against the same register.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmployerRef:
    """The employer as the form names it: NOSS registration number, enterprise number, or both."""

    noss: str | None = None
    company_id: str | None = None


@dataclass(frozen=True)
class Employer:
    """A known employer of the employers' register."""

    company_id: str  # enterprise number, ten digits
    noss: str | None
    name: str
    active: bool = True
