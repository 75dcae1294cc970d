"""Four-eyes proposals: a change to authorizations, integration rights or a right's competent
institution that waits for a second operator's approval before it is applied.

A proposal records the change as the registry checked it when it was made (`body`: the
authorization or integration right, normalised); approving it checks it again against the
registry as it is then, and applies it under the approver's name with the proposer's recorded
beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import Refusal

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
STATES = (PENDING, APPROVED, REJECTED)
AUTHORIZATION, INTEGRATION_RIGHT = "authorization", "integration_right"
RIGHTS_COMPETENCE = "rights_competence"  # a right's competent institution (docs/rights.md)
PUT, DELETE = "put", "delete"


@dataclass(frozen=True)
class Proposal:
    id: str
    kind: str  # AUTHORIZATION, INTEGRATION_RIGHT or RIGHTS_COMPETENCE
    action: str  # PUT or DELETE
    key: str  # the authorization's reference, INSTITUTION/CAPACITY, or the right's code
    body: dict[str, Any] = field(default_factory=dict)  # for PUT: the change, as checked
    proposed_by: str = ""
    proposed_at_ms: int = 0
    state: str = PENDING
    decided_by: str | None = None
    decided_at_ms: int | None = None
    reason: str | None = None  # the rejecting operator's, or why approving it failed


def check_pending(proposal: Proposal) -> None:
    """A proposal is decided once."""
    if proposal.state != PENDING:
        raise Refusal(
            "conflict",
            f"proposal {proposal.id} was already {proposal.state} by {proposal.decided_by}.",
        )


def check_approver(proposal: Proposal, actor_id: str) -> None:
    """The second pair of eyes: never the operator who made the proposal (who may still
    withdraw it by rejecting it)."""
    check_pending(proposal)
    if proposal.proposed_by == actor_id:
        raise Refusal(
            "own_proposal",
            f"{actor_id} made proposal {proposal.id}; another operator must approve it.",
        )
