"""The admin API's competent institution per right: which institution confirms the rights
engine's decisions about a right, held by the registry (services/rights_competence.py).

Reads need the `read` permission, writes `edit`; each write is audited with the operator's id
and, with four eyes on, answers 202 with the proposal it became (admin_proposals.py).
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import Depends, Request, Response

from ...domain.proposals import RIGHTS_COMPETENCE
from ...domain.rights import Competence
from .admin_proposals import proposal_out
from .answer_models import CompetenceOut, ProposalOut
from .dependencies import ActorDep, FourEyesDep, hub_of
from .errors import openapi_errors
from .hub_router import HubRouter
from .json_input import JSONRoute
from .openapi_models import answers
from .responses import JSONBody
from .schemas import CompetenceIn
from .security import operator

router = HubRouter(
    route_class=JSONRoute, prefix="/admin/rights", tags=["admin"], dependencies=[Depends(operator)]
)
ERRORS = openapi_errors(
    "unauthenticated",
    "forbidden",
    "role_required",
    "csrf_failed",
    "malformed_request",
    "invalid_identifier",
    "unknown_right",
    "not_found",
    "payload_too_large",
)
PROPOSED = {
    **ERRORS,
    202: {
        "model": ProposalOut,
        "description": "Four eyes: the change became a proposal (admin_proposals.py).",
    },
}


@router.get(
    "/competent",
    responses=answers(list[CompetenceOut], ERRORS),
    summary="Each right's competent institution, as the registry holds it",
)
async def list_competences(request: Request) -> list[dict]:
    return [asdict(c) for c in await hub_of(request).rights_competence.list()]


@router.get(
    "/{right}/competent",
    responses=answers(CompetenceOut, ERRORS),
    summary="One right's competent institution",
)
async def get_competence(right: str, request: Request) -> dict:
    return asdict(await hub_of(request).rights_competence.get(right))


@router.put(
    "/{right}/competent",
    responses=answers(CompetenceOut, PROPOSED, also=(201,)),
    summary="Name the institution that confirms a right's decisions (audited; four eyes)",
)
async def put_competence(
    right: str, body: CompetenceIn, four_eyes: FourEyesDep, actor: ActorDep, response: Response
) -> dict:
    outcome = await four_eyes.put(
        Competence(right, body.capacity, body.institution, body.legal_basis), actor
    )
    if isinstance(outcome, tuple):
        competence, created = outcome
        response.status_code = 201 if created else 200
        return asdict(competence)
    response.status_code = 202
    return proposal_out(outcome)


@router.delete(
    "/{right}/competent",
    status_code=204,
    responses=PROPOSED,
    summary="End a right's competence: its next decisions go to no institution (audited)",
)
async def delete_competence(right: str, four_eyes: FourEyesDep, actor: ActorDep) -> Response:
    proposal = await four_eyes.delete(RIGHTS_COMPETENCE, (right,), actor)
    if proposal is None:
        return Response(status_code=204)
    return JSONBody(proposal_out(proposal), status_code=202)
