"""Which of the demo country's variables are rights, and the version of its rules.

`RULES_VERSION` names this set of formulas; a change to any formula is a new version (the
parameters carry their own dates of validity, so a new threshold is a dated value, not a new
version). Every decision records the version and the parameter values it used. Kept apart from
system.py so that naming the rights does not load OpenFisca.
"""

from __future__ import annotations

from dataclasses import dataclass

RULES_VERSION = "demo-be/2026.1"


@dataclass(frozen=True)
class RightVariable:
    """A right, the variable that decides it, and the parameters its formula reads."""

    code: str
    variable: str
    parameters: tuple[str, ...]


RIGHT_VARIABLES = (
    RightVariable(
        "increased-reimbursement",
        "increased_reimbursement",
        (
            "increased_reimbursement.income_ceiling",
            "increased_reimbursement.increase_per_member",
        ),
    ),
    RightVariable(
        "social-energy-tariff",
        "social_energy_tariff",
        (
            "social_energy_tariff.for_increased_reimbursement",
            "increased_reimbursement.income_ceiling",
            "increased_reimbursement.increase_per_member",
        ),
    ),
    RightVariable(
        "child-social-supplement",
        "child_social_supplement",
        (
            "child_supplement.income_ceiling",
            "child_supplement.amount_small_family",
            "child_supplement.amount_large_family",
        ),
    ),
)
