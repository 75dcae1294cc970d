"""The shapes of the rights API's answers (entrypoints/api/rights.py), for the OpenAPI document
only: routes answer the domain's own dicts (`Decision.explanation`, `RuleOutcome.as_dict`), and
`tests/e2e/test_openapi_answers.py` checks real answers against these.
"""

from __future__ import annotations

from typing import Any, Literal

from .openapi_models import Out


class RuleParameter(Out):
    description: str | None = None
    reference: str | list[str] | None = None
    values: dict[str, Any]


class RightRule(Out):
    code: str
    name: str
    variable: str
    legal_basis: list[str]
    parameters: dict[str, RuleParameter]


class RuleBook(Out):
    rule_version: str
    rights: list[RightRule]


class Outcome(Out):
    right: str
    granted: bool
    amount: float | None
    rule_version: str
    month: str
    parameters: dict[str, Any]
    legal_basis: list[str]


class FactUsed(Out):
    name: str
    value: Any
    source: str
    provider: str | None = None
    authorization: str | None = None


class Simulation(Out):
    rights: list[Outcome]
    facts: list[FactUsed]
    stored: Literal[False]
    today: list[Outcome] | None = None


class DecisionOut(Out):
    id: str
    right: str
    change: str
    status: str
    competent_institution: str | None
    origin: str | None = None
    decided_at_ms: int
    rule: Outcome
    facts: list[FactUsed]
    answered_by: str | None
    answer_reason: str | None


class Decisions(Out):
    decisions: list[DecisionOut]


class ScanReport(Out):
    persons: int
    found: int
    decisions: int
    seconds: float
