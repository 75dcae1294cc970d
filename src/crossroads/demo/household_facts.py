"""The facts the demo's rights engine reads, as the simulated authentic sources answer them:
household compositions (the national register), social benefits and household incomes (the
register of social benefits and incomes). Derived from each person's number, like the rest of
the demo country, so the sources need no database.
"""

from __future__ import annotations

import hashlib
import random

from .country import is_child


def household(subject: str) -> dict:
    rng = _rng(subject, "household")
    if is_child(subject):
        adults, children = rng.choice([1, 2, 2]), rng.choice([1, 2, 2, 3, 4])
    else:
        adults, children = rng.choice([1, 1, 2, 2, 2]), rng.choice([0, 0, 0, 1, 2, 3])
    return {"adults": adults, "children": children, "child": is_child(subject)}


def benefits(subject: str) -> dict:
    rng = _rng(subject, "benefits")
    adult = not is_child(subject)
    born = int(subject[:2])
    elderly = adult and 45 <= born <= 58  # born 1945-1958 (the demo's adults start in 1945)
    return {
        "integration_income": adult and rng.random() < 0.06,
        "income_guarantee_elderly": elderly and rng.random() < 0.15,
        "disability_allowance": adult and rng.random() < 0.04,
    }


def household_benefits(subject: str) -> dict:
    """The benefits the other adults of the person's household receive, member by member (no
    identity: the rules need only who receives what). Drawn like a person's own benefits."""
    others = household(subject)["adults"] - (not is_child(subject))
    members = []
    for index in range(max(others, 0)):
        rng = _rng(subject, f"member-benefits:{index}")
        members.append(
            {
                "integration_income": rng.random() < 0.06,
                "income_guarantee_elderly": rng.random() < 0.05,
                "disability_allowance": rng.random() < 0.04,
            }
        )
    return {"members": members}


def income(subject: str) -> dict:
    rng = _rng(subject, "income")
    low = any(benefits(subject).values())
    yearly = rng.uniform(6_000, 16_000) if low else rng.uniform(12_000, 95_000)
    return {"yearly_income": round(yearly, 2), "assessment_year": 2025}


def _rng(subject: str, salt: str) -> random.Random:
    return random.Random(hashlib.sha256(f"rights:{salt}:{subject}".encode()).digest())
