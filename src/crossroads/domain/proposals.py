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
PERSON_PREFIX = "person:"  # an operator who signs in as a person (domain/operators.py)
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
    """The second pair of eyes: a person (signed in as `person:…`), never the operator who made
    the proposal (who may still withdraw it by rejecting it), nor the one it empowers.

    A service account's key is whoever holds it: the operator who proposed it, or anyone they
    gave it to. Four eyes are two people's, so an approval is a person's; the static admin token,
    which anyone who read it holds, does not approve either. Both may still propose and reject."""
    check_pending(proposal)
    if not actor_id.startswith(PERSON_PREFIX):
        raise Refusal(
            "approver_not_person",
            f"{actor_id} may not approve proposal {proposal.id}: an approval is a person's, "
            "signed in at /operator/login, not a service account's or the static admin token's.",
        )
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
    """Four eyes are two people already trusted, not one person twice. From the approved
    proposals that gave an operator roles or keys (kind OPERATOR):
    - an approver may not approve a proposal by the operator who proposed their own operator,
      nor by an operator they proposed: one may be the other's second person id;
    - nor a proposal by a service account that they proposed or approved, directly or through
      other service accounts: its key is in the hands of whoever proposed it, or approved it
      (their own key, proposed by someone else). Else an admin proposes two service accounts
      whose keys they hold, has each approved once by a busy colleague, and from then on one
      proposes and the other approves (service accounts may not approve, check_approver; this
      refuses the person behind them).
    A person's sponsors go no further: a person signs in with an identity of their own, which
    whoever proposed or approved it does not hold."""
    grants = [p for p in approved if p.kind == OPERATOR and p.action == PUT]
    for earlier in grants:
        pair = (earlier.key, earlier.proposed_by)
        if pair in ((actor_id, proposal.proposed_by), (proposal.proposed_by, actor_id)):
            raise _related(proposal, actor_id, earlier)
    if proposal.proposed_by.startswith(PERSON_PREFIX):
        return
    reached, accounts = {proposal.proposed_by}, [proposal.proposed_by]
    while accounts:  # the service accounts behind the proposal, and who set each one up
        account = accounts.pop()
        for earlier in grants:
            if earlier.key != account:
                continue
            sponsors = [s for s in (earlier.proposed_by, earlier.decided_by) if s]
            if actor_id in sponsors:
                raise _related(proposal, actor_id, earlier)
            for sponsor in sponsors:
                if sponsor not in reached and not sponsor.startswith(PERSON_PREFIX):
                    reached.add(sponsor)
                    accounts.append(sponsor)


def _related(proposal: Proposal, actor_id: str, earlier: Proposal) -> Refusal:
    return Refusal(
        "related_operator",
        f"{earlier.key} was given roles or keys on a proposal by {earlier.proposed_by}, approved "
        f"by {earlier.decided_by} (proposal {earlier.id}): {actor_id} may not approve proposal "
        f"{proposal.id} by {proposal.proposed_by}; another operator must.",
    )


def operator_grants(current: Operator | None, change: Operator) -> bool:
    """Whether an operator's change, under four eyes, needs a second operator: it lets someone
    act as an operator or approve who could not before — a new operator or service account, a
    role it did not hold, a key (of a service account) it did not have, whether it is enabled or
    not (a disabled account given roles or keys would be enabled later with them unseen), or a
    disabled one enabled again with roles or keys. Withdrawing a role, removing a key or
    disabling only takes away: applied at once (so is removing an operator)."""
    if current is None:
        return True
    keys = _jwk_set(change.jwks)
    if set(change.roles) - set(current.roles) or keys - _jwk_set(current.jwks):
        return True
    return change.active and not current.active and bool(change.roles or keys)


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
