"""The admin API's operators and service accounts: who may administer the hub, with which roles.
Listed with `read`, changed with `manage` (the `admin` role); each change audited with its
actor (services/operators.py). With four eyes on, a change that lets someone act or approve who
could not before is a proposal, answered 202 (services/four_eyes.py)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import Depends, Response

from ...domain.operators import Operator, Permission, parse_roles
from ...domain.proposals import Proposal
from .admin_proposals import proposal_out
from .answer_models import OperatorOut, ProposalOut
from .dependencies import ActorDep, FourEyesDep, OperatorAdminDep
from .errors import openapi_errors
from .hub_router import HubRouter
from .json_input import JSONRoute
from .openapi_models import answers
from .schemas import OperatorIn
from .security import operator_for

router = HubRouter(
    route_class=JSONRoute,
    prefix="/admin/operators",
    tags=["admin"],
    dependencies=[Depends(operator_for(Permission.READ, Permission.MANAGE))],
)
ERRORS = openapi_errors(
    "unauthenticated",
    "forbidden",
    "role_required",
    "csrf_failed",
    "malformed_request",
    "not_found",
    "conflict",
)


def _out(operator: Operator) -> dict:
    return {**asdict(operator), "kind": operator.kind, "roles": [r.value for r in operator.roles]}


@router.get(
    "",
    responses=answers(list[OperatorOut], ERRORS),
    summary="Operators and service accounts, with their roles",
)
async def list_operators(operators: OperatorAdminDep) -> list[dict]:
    return [_out(o) for o in await operators.list()]


@router.get(
    "/{operator_id}",
    responses=answers(OperatorOut, ERRORS),
    summary="One operator or service account",
)
async def get_operator(operator_id: str, operators: OperatorAdminDep) -> dict:
    return _out(await operators.get(operator_id))


PROPOSED = {
    **ERRORS,
    202: {
        "model": ProposalOut,
        "description": "Four eyes: a new operator, a role or a key became a proposal.",
    },
}


@router.put(
    "/{operator_id}",
    responses=answers(OperatorOut, PROPOSED, also=(201,)),
    summary="Register an operator (person:SUBJECT) or a service account (service:NAME, with keys)",
)
async def put_operator(
    operator_id: str,
    body: OperatorIn,
    four_eyes: FourEyesDep,
    actor: ActorDep,
    response: Response,
) -> dict:
    outcome = await four_eyes.put_operator(
        Operator(operator_id, parse_roles(body.roles), body.active, body.jwks), actor
    )
    if isinstance(outcome, Proposal):
        response.status_code = 202
        return proposal_out(outcome)
    operator, created = outcome
    response.status_code = 201 if created else 200
    return _out(operator)


@router.delete("/{operator_id}", status_code=204, responses=ERRORS, summary="Remove an operator")
async def delete_operator(
    operator_id: str, operators: OperatorAdminDep, actor: ActorDep
) -> Response:
    await operators.delete(operator_id, actor)
    return Response(status_code=204)
