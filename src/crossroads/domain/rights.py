"""Rights granted without asking: the situation a rule reads, the facts it came from, and the
decisions the rights engine takes, each with its explanation.

The rules themselves are OpenFisca code (adapters/openfisca_country); what is here is what every
layer shares about them: a `Situation` (a person in their household, as the hub's services
describe them), the `Fact`s it was built from (which service, which provider, which
authorization), a rule's `RuleOutcome` (granted or not, the rule version and the parameter
values used, the legal bases) and a `Decision` (an outcome that changed a person's rights, sent
to the competent institution, which confirms or refuses it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .errors import Refusal

GRANTED, ENDED = "granted", "ended"
PENDING, CONFIRMED, REFUSED = "pending", "confirmed", "refused"
MAX_MEMBERS = 20  # a household larger than this is not a household the register knows
MAX_INCOME = 100_000_000.0
MAX_LEGAL_BASIS = 500


@dataclass(frozen=True)
class Competence:
    """The registry's entry naming who confirms a right's decisions: the institution holding the
    person in `capacity` in the reference directory, or one fixed `institution` (exactly one of
    the two), under the law that assigns the right (`legal_basis`)."""

    right: str
    capacity: str | None = None
    institution: str | None = None
    legal_basis: str = ""

    def __post_init__(self) -> None:
        if (self.capacity is None) == (self.institution is None):
            raise Refusal(
                "malformed_request",
                "a right's competence names either a capacity or an institution, not both.",
                "capacity",
            )
        if not isinstance(self.legal_basis, str) or len(self.legal_basis) > MAX_LEGAL_BASIS:
            raise Refusal(
                "malformed_request",
                f"legal_basis is text of at most {MAX_LEGAL_BASIS} characters.",
                "legal_basis",
            )

    def competent(self, holders: Sequence[tuple[str, str]]) -> str | None:
        """The institution that confirms a decision about a person held by `holders`
        ((institution, capacity) pairs): the fixed one, or the first holder in the capacity in
        number order (None: the directory names none)."""
        if self.institution is not None:
            return self.institution
        found = sorted(i for i, capacity in holders if capacity == self.capacity)
        return found[0] if found else None


@dataclass(frozen=True)
class PersonFacts:
    """What the rules know of one member of a household."""

    child: bool = False
    integration_income: bool = False
    income_guarantee_elderly: bool = False
    disability_allowance: bool = False


@dataclass(frozen=True)
class Situation:
    """A household, as the rules read it; `members[0]` is the person decided about."""

    members: tuple[PersonFacts, ...]
    household_income: float

    def __post_init__(self) -> None:
        if not 1 <= len(self.members) <= MAX_MEMBERS:
            raise Refusal(
                "malformed_request",
                f"a household has between 1 and {MAX_MEMBERS} members.",
                "household",
            )
        if not 0 <= self.household_income <= MAX_INCOME:
            raise Refusal(
                "malformed_request",
                f"household_income is between 0 and {MAX_INCOME:.0f} euros a year.",
                "household_income",
            )


@dataclass(frozen=True)
class Fact:
    """One fact a decision used, and where it came from."""

    name: str
    value: Any
    source: str  # the service it was read from, or "simulation" when the person typed it
    provider: str | None = None  # the institution that answered
    authorization: str | None = None  # under which the hub read it

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "source": self.source,
            "provider": self.provider,
            "authorization": self.authorization,
        }


@dataclass(frozen=True)
class RuleOutcome:
    """What a rule decided for one person in one month, and with what."""

    right: str
    granted: bool
    amount: float | None
    rule_version: str
    month: str  # YYYY-MM
    parameters: Mapping[str, Any]  # each parameter's name and the value it had that month
    legal_basis: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "right": self.right,
            "granted": self.granted,
            "amount": self.amount,
            "rule_version": self.rule_version,
            "month": self.month,
            "parameters": dict(self.parameters),
            "legal_basis": list(self.legal_basis),
        }


@dataclass(frozen=True)
class Decision:
    """A change of a person's right (granted or ended), sent to the competent institution."""

    id: str
    subject: str
    right: str
    change: str  # GRANTED | ENDED
    outcome: RuleOutcome
    facts: tuple[Fact, ...]
    competent: str | None  # the institution that confirms it; None: the directory named none
    decided_at_ms: int
    status: str = PENDING
    answered_by: str | None = None
    answer_reason: str | None = None
    origin: str = "change"  # "change": a mutation or a request; "non-take-up": found by a scan

    def answered(self, status: str, by: str, reason: str | None) -> Decision:
        return replace(self, status=status, answered_by=by, answer_reason=reason)

    def explanation(self) -> dict[str, Any]:
        """The same explanation for the institution and for the person."""
        return {
            "id": self.id,
            "right": self.right,
            "change": self.change,
            "status": self.status,
            "competent_institution": self.competent,
            "origin": self.origin,
            "decided_at_ms": self.decided_at_ms,
            "rule": self.outcome.as_dict(),
            "facts": [f.as_dict() for f in self.facts],
            "answered_by": self.answered_by,
            "answer_reason": self.answer_reason,
        }


def mutation_type(change: str, right: str) -> str:
    """The mutation type a decision is published as: one per right and change
    (`right.granted.increased-reimbursement`), so that an institution subscribes to, and is
    authorized for, the rights it is competent for and learns nothing of the others."""
    return f"right.{change}.{right}"


def change_of(latest: Decision | None, outcome: RuleOutcome) -> str | None:
    """The change `outcome` makes to a right whose latest decision is `latest`, or None.

    A right starts when it is granted and was not (never decided, or last ended); it ends when it
    is no longer granted and was last granted. A refused grant stays the latest decision until
    the facts end the right: the engine does not propose again what the institution refused for
    the same facts."""
    held = latest is not None and latest.change == GRANTED
    if outcome.granted and not held:
        return GRANTED
    if not outcome.granted and held:
        return ENDED
    return None


def check_answer(decision: Decision, institution: str | None) -> None:
    """Only the competent institution answers, and only once."""
    if institution is None or decision.competent != institution:
        raise Refusal(
            "forbidden",
            "only the competent institution confirms or refuses a decision about a right.",
        )
    if decision.status != PENDING:
        raise Refusal(
            "conflict",
            f"decision {decision.id} was already {decision.status}.",
            "decision",
        )
