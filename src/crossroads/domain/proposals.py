"""Four-eyes proposals: a change to authorizations, integration rights, a right's competent
institution, or one that lets an institution or application act on or receive persons' data (an
application's keys, a member's addresses and peer, where a service's requests go), that waits
for a second operator's approval before it is applied; and one that lets someone approve or act as
an operator (a new operator or service account, a role or key it did not have).

A pending proposal expires after the hub's proposal lifetime
(`CROSSROADS_PROPOSAL_LIFETIME_SECONDS`), decided from its creation time and the clock when it is
read or approved: a change proposed long ago was checked against a registry that has moved on, and
an approver should not be asked to approve it blind. Expired is shown as a state of its own and is
final, like a decision.

A proposal records the change as the registry checked it when it was made (`body`: the
authorization or integration right, normalised); approving it checks it again against the
registry as it is then, and applies it under the approver's name with the proposer's recorded
beside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import Refusal
from .operators import Operator, Role
from .registry import Application, Institution, Service

PENDING, APPROVED, REJECTED, EXPIRED = "pending", "approved", "rejected", "expired"
STATES = (PENDING, APPROVED, REJECTED, EXPIRED)
AUTHORIZATION, INTEGRATION_RIGHT = "authorization", "integration_right"
RIGHTS_COMPETENCE = "rights_competence"  # a right's competent institution (docs/rights.md)
INSTITUTION, APPLICATION, SERVICE = "institution", "application", "service"
OPERATOR = "operator"  # an operator or service account of the hub (domain/operators.py)
PUT, DELETE = "put", "delete"


@dataclass(frozen=True)
class Proposal:
    id: str
    # AUTHORIZATION, INTEGRATION_RIGHT, RIGHTS_COMPETENCE, INSTITUTION, APPLICATION, SERVICE or
    # OPERATOR
    kind: str
    action: str  # PUT or DELETE
    # the authorization's reference, INSTITUTION/CAPACITY, the right's code, the institution's
    # number, an application's client id (INSTITUTION:CODE), a service's CODE/VERSION, or an
    # operator's id
    key: str
    # for PUT: the change, as checked; an institution's, application's, service's or operator's
    # also holds `previous`, the entry as it was when proposed (None: new), which approval finds
    # unchanged
    body: dict[str, Any] = field(default_factory=dict)
    proposed_by: str = ""
    proposed_at_ms: int = 0
    state: str = PENDING
    decided_by: str | None = None
    decided_at_ms: int | None = None
    reason: str | None = None  # the rejecting operator's, or why approving it failed


def as_of(proposal: Proposal, now_ms: int, lifetime_ms: int) -> Proposal:
    """The proposal as it stands at `now_ms`: a pending one made `lifetime_ms` or longer ago is
    EXPIRED (the store keeps it pending: expiry needs no job, only the clock)."""
    if proposal.state == PENDING and now_ms - proposal.proposed_at_ms >= lifetime_ms:
        return replace(proposal, state=EXPIRED)
    return proposal


def check_pending(proposal: Proposal) -> None:
    """A proposal is decided once, and not after it expired (`as_of`)."""
    if proposal.state == EXPIRED:
        raise Refusal(
            "proposal_expired",
            f"proposal {proposal.id} expired unapproved: it was made too long ago to be approved "
            "or rejected now; propose the change again if it is still wanted.",
        )
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
    if proposal.kind == OPERATOR and proposal.key == actor_id:
        raise Refusal(
            "own_proposal",
            f"proposal {proposal.id} gives {actor_id} roles or keys; another operator must "
            "approve it.",
        )


def check_unrelated(proposal: Proposal, actor_id: str, approved: list[Proposal]) -> None:
    """Four eyes are two people already trusted, not one person twice: an approver whose own
    operator (its creation, a role or a key) was proposed by the proposal's author may not approve
    it, nor may anyone approve a proposal by an operator the approver proposed that way. Else an
    admin would propose a service account whose key they hold, get it approved once by a busy
    colleague, and from then on approve their own proposals with it. `approved`: the approved
    proposals (those of kind OPERATOR are read)."""
    for earlier in approved:
        if earlier.kind != OPERATOR or earlier.action != PUT:
            continue
        pair = (earlier.key, earlier.proposed_by)
        if pair in ((actor_id, proposal.proposed_by), (proposal.proposed_by, actor_id)):
            raise Refusal(
                "related_operator",
                f"{earlier.key} was given roles or keys on a proposal by {earlier.proposed_by} "
                f"(proposal {earlier.id}): {actor_id} may not approve proposal {proposal.id} by "
                f"{proposal.proposed_by}; another operator must.",
            )


def operator_grants(current: Operator | None, change: Operator) -> bool:
    """Whether an operator's change, under four eyes, needs a second operator: it lets someone
    act as an operator or approve who could not before — a new operator or service account, a
    role it did not hold, a key (of a service account) it did not have, or a disabled one enabled
    again with roles or keys. Withdrawing a role, removing a key or disabling only takes away:
    applied at once (so is removing an operator)."""
    if current is None:
        return True
    if not change.active:
        return False
    roles_before = set(current.roles) if current.active else set()
    keys_before = _jwk_set(current.jwks) if current.active else set()
    return bool(set(change.roles) - roles_before) or bool(_jwk_set(change.jwks) - keys_before)


def operator_from(body: dict[str, Any]) -> Operator:
    """An operator as a proposal's body holds it (`operator_body`)."""
    return Operator(
        body["id"], tuple(Role(r) for r in body["roles"]), body["active"], body.get("jwks")
    )


def operator_body(operator: Operator) -> dict[str, Any]:
    """An operator as a proposal's body holds it (JSON)."""
    return {
        "id": operator.id,
        "roles": [r.value for r in operator.roles],
        "active": operator.active,
        "jwks": operator.jwks,
    }


def institution_grants(current: Institution | None, change: Institution) -> bool:
    """Whether a member's change, under four eyes, needs a second operator: it sends persons'
    data somewhere new or lets another party speak for the member — a provider address
    (`base_url`: requests full of identifiers go there, its answers are trusted), a webhook base
    (pushes of persons' changes), or a peer hub (answered for the member). A new member with any
    of them counts: once an authorization names it, they carry data. Removing one only takes
    away, and the name or class alone give nothing: those are applied at once."""
    if current is None:
        return bool(change.base_url or change.webhook_bases or change.peer)
    added_base = bool(set(change.webhook_bases) - set(current.webhook_bases))
    new_url = change.base_url is not None and change.base_url != current.base_url
    new_peer = change.peer is not None and change.peer != current.peer
    return new_url or added_base or new_peer


def application_grants(current: Application | None, change: Application) -> bool:
    """Whether an application's change, under four eyes, needs a second operator: a key that may
    sign the application's assertions after it and not before (a new key, a key replaced under
    the same kid, or keys made usable again by enabling it). Disabling it, removing a key or
    renaming it only takes away: applied at once."""
    if not change.active:
        return False
    before = _keys(current) if current is not None and current.active else set()
    return bool(_keys(change) - before)


def _keys(application: Application) -> set[str]:
    return _jwk_set(application.jwks)


def _jwk_set(jwks: dict[str, Any] | None) -> set[str]:
    keys = (jwks or {}).get("keys", [])
    return {json.dumps(k, sort_keys=True) for k in keys} if isinstance(keys, list) else set()


def service_reroutes(current: Service | None, change: Service) -> bool:
    """Whether a service version's change, under four eyes, needs a second operator: it sends the
    requests that authorizations already allow to another institution — another fixed provider,
    or routed on another capacity (or no longer routed). `current` is the version changed, or,
    for a new version, the code's highest: a new version is routed as the code was. A service of
    a new code is applied at once: nothing reaches it before an authorization for it is
    approved, and that approval shows where it goes."""
    if current is None:
        return False
    return (change.provider, change.routed_capacity) != (
        current.provider,
        current.routed_capacity,
    )
