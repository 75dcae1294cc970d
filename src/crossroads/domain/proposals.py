"""Four-eyes proposals: a change to authorizations, integration rights, a right's competent
institution, or one that lets an institution or application act on or receive persons' data (an
application's keys, a member's addresses and peer, where a service's requests go), that waits
for a second operator's approval before it is applied.

A proposal records the change as the registry checked it when it was made (`body`: the
authorization or integration right, normalised); approving it checks it again against the
registry as it is then, and applies it under the approver's name with the proposer's recorded
beside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import Refusal
from .registry import Application, Institution, Service

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
STATES = (PENDING, APPROVED, REJECTED)
AUTHORIZATION, INTEGRATION_RIGHT = "authorization", "integration_right"
RIGHTS_COMPETENCE = "rights_competence"  # a right's competent institution (docs/rights.md)
INSTITUTION, APPLICATION, SERVICE = "institution", "application", "service"
PUT, DELETE = "put", "delete"


@dataclass(frozen=True)
class Proposal:
    id: str
    # AUTHORIZATION, INTEGRATION_RIGHT, RIGHTS_COMPETENCE, INSTITUTION, APPLICATION or SERVICE
    kind: str
    action: str  # PUT or DELETE
    # the authorization's reference, INSTITUTION/CAPACITY, the right's code, the institution's
    # number, an application's client id (INSTITUTION:CODE), or a service's CODE/VERSION
    key: str
    # for PUT: the change, as checked; an institution's, application's or service's also holds
    # `previous`, the entry as it was when proposed (None: new), which approval finds unchanged
    body: dict[str, Any] = field(default_factory=dict)
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
    keys = application.jwks.get("keys", [])
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
