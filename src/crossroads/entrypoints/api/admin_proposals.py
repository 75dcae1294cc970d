"""The admin API's four-eyes proposals: list and show them (`read`), approve or reject one
(`approve`). A proposal's own author cannot approve it (`own_proposal`), nor an operator it gives
roles or keys, nor one set up by its author (`related_operator`); a proposal past the hub's
proposal lifetime is `expired` and decided no more (`proposal_expired`); both steps are audited
(services/four_eyes.py)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from fastapi import Depends, Query

from ...domain.operators import Permission
from ...domain.proposals import Proposal
from .answer_models import ProposalOut
from .dependencies import ActorDep, FourEyesDep
from .errors import openapi_errors
from .hub_router import HubRouter
from .json_input import JSONRoute
from .openapi_models import answers
from .schemas import RejectionIn
from .security import operator_for

router = HubRouter(
    route_class=JSONRoute,
    prefix="/admin/proposals",
    tags=["admin"],
    dependencies=[Depends(operator_for(Permission.READ, Permission.APPROVE))],
)
ERRORS = openapi_errors(
    "unauthenticated",
    "forbidden",
    "role_required",
    "own_proposal",
    "approver_not_person",
    "related_operator",
    "csrf_failed",
    "malformed_request",
    "not_found",
    "conflict",
    "proposal_expired",
    "no_integration_right",
    "unknown_service",
    "unknown_right",
)


def proposal_out(proposal: Proposal) -> dict:
    return {**asdict(proposal), "url": f"/admin/proposals/{proposal.id}"}


@router.get(
    "", responses=answers(list[ProposalOut], ERRORS), summary="Four-eyes proposals, oldest first"
)
async def list_proposals(
    four_eyes: FourEyesDep,
    state: Literal["pending", "approved", "rejected", "expired"] | None = Query(
        None,
        description=(
            "Only proposals in this state (expired: pending past the hub's proposal lifetime)."
        ),
    ),
) -> list[dict]:
    return [proposal_out(p) for p in await four_eyes.list(state)]


@router.get(
    "/{proposal_id}", responses=answers(ProposalOut, ERRORS), summary="One four-eyes proposal"
)
async def get_proposal(proposal_id: str, four_eyes: FourEyesDep) -> dict:
    return proposal_out(await four_eyes.get(proposal_id))


@router.post(
    "/{proposal_id}/approve",
    responses=answers(ProposalOut, ERRORS),
    summary="Approve another operator's proposal: the change is applied, under both names",
)
async def approve(proposal_id: str, four_eyes: FourEyesDep, actor: ActorDep) -> dict:
    return proposal_out(await four_eyes.approve(proposal_id, actor))


@router.post(
    "/{proposal_id}/reject",
    responses=answers(ProposalOut, ERRORS),
    summary="Reject a proposal (its author may withdraw their own this way)",
)
async def reject(
    proposal_id: str, four_eyes: FourEyesDep, actor: ActorDep, body: RejectionIn | None = None
) -> dict:
    return proposal_out(await four_eyes.reject(proposal_id, actor, body.reason if body else None))
