"""The admin API's browser sessions of one person (services/person_sessions.py): counted and
ended with `manage` (the `admin` role), each count and ending audited with its actor (whether a
person is signed in is theirs to know was asked). The person is named in the query (`subject`,
and optionally `audience`), which the access log never records."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request

from ...domain.operators import Permission
from ...services.person_sessions import MAX_SUBJECT_CHARS, PersonSessions
from ...services.session_records import AUDIENCES
from .answer_models import PersonSessionsOut
from .dependencies import ActorDep, hub_of
from .errors import openapi_errors
from .hub_router import HubRouter
from .json_input import JSONRoute
from .openapi_models import answers
from .security import operator_for

router = HubRouter(
    route_class=JSONRoute,
    prefix="/admin/sessions",
    tags=["admin"],
    dependencies=[Depends(operator_for(Permission.MANAGE, Permission.MANAGE))],
)
ERRORS = openapi_errors(
    "unauthenticated", "forbidden", "role_required", "csrf_failed", "malformed_request"
)
SubjectQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=MAX_SUBJECT_CHARS,
        description=(
            "Whom: a citizen's national number, a portal user's subject at the identity provider "
            "(sub), an operator's id (person:SUBJECT) or subject."
        ),
    ),
]
AudienceQuery = Annotated[
    str | None,
    Query(
        description=f"Only this audience's sessions: {', '.join(AUDIENCES)}; unset: every one.",
    ),
]


def _sessions(request: Request) -> PersonSessions:
    return hub_of(request).person_sessions


def _out(counts: dict[str, int]) -> dict[str, Any]:
    return {"sessions": counts, "total": sum(counts.values())}


@router.get(
    "",
    responses=answers(PersonSessionsOut, ERRORS),
    summary="How many browser sessions one person has signed in, per audience",
)
async def count_sessions(
    request: Request, actor: ActorDep, subject: SubjectQuery, audience: AudienceQuery = None
) -> dict[str, Any]:
    return _out(await _sessions(request).count(subject, audience, actor))


@router.delete(
    "",
    responses=answers(PersonSessionsOut, ERRORS),
    summary="End every browser session of one person, in every hub process (audited)",
)
async def end_sessions(
    request: Request, actor: ActorDep, subject: SubjectQuery, audience: AudienceQuery = None
) -> dict[str, Any]:
    return _out(await _sessions(request).end(subject, audience, actor))
