"""Rights over HTTP (docs/rights.md): the rules and their legal bases, simulations (anonymous,
or from the signed-in person's real facts), a person's rights with their explanation, the
competent institution's decisions to confirm or refuse, its non-take-up report, and the
operator's re-evaluation and scan. Thin: the use cases are services/rights_*.py.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Depends, Query, Request
from pydantic import Field

from ...bootstrap import Hub
from ...domain.callers import Caller
from ...domain.errors import Refusal
from ...domain.rights import MAX_MEMBERS, Decision, RuleOutcome
from ...services.rights_engine import MAX_PAGE, MAX_REASON, RightsEngine
from ...services.rights_nontakeup import NonTakeUp
from ...services.rights_simulation import Simulated
from .dependencies import hub_of
from .errors import openapi_errors
from .hub_router import HubRouter
from .json_input import JSONRoute
from .openapi_models import answers
from .rights_answers import DecisionOut, Decisions, RuleBook, ScanReport, Simulation
from .schemas import Strict
from .security import member_application, operator

router = HubRouter(route_class=JSONRoute, tags=["rights"])
PUBLIC_ERRORS = openapi_errors("malformed_request", "unsupported_media_type", "payload_too_large")
PERSON_ERRORS = openapi_errors(
    "unauthenticated",
    "forbidden",
    "malformed_request",
    "invalid_identifier",
    "not_found",
    "provider_unavailable",
    "provider_timeout",
)
OPERATOR_ERRORS = openapi_errors("unauthenticated", "forbidden", "malformed_request", "not_found")
INSTITUTION_ERRORS = openapi_errors(
    "unauthenticated", "member_busy", "forbidden", "malformed_request", "not_found", "conflict"
)


class SituationIn(Strict):
    """Changes to a situation (a signed-in person's), or a whole one (anonymous)."""

    household_income: float | None = Field(
        None, ge=0, le=100_000_000, description="Gross taxable income of the household, yearly."
    )
    adults: int | None = Field(None, ge=0, le=MAX_MEMBERS, description="Adults in the household.")
    children: int | None = Field(
        None, ge=0, le=MAX_MEMBERS, description="Children in the household (a child to come too)."
    )
    children_to_come: int | None = Field(
        None, ge=0, le=MAX_MEMBERS, description="Children to come, added to the children counted."
    )
    income_ending: float | None = Field(
        None,
        ge=0,
        le=100_000_000,
        description="Yearly wages of a job that ends, taken off the household's income.",
    )
    child: bool | None = Field(None, description="The person is a child of the household.")
    integration_income: bool | None = None
    income_guarantee_elderly: bool | None = None
    disability_allowance: bool | None = None


class PersonalSimulationIn(SituationIn):
    subject: str = Field(max_length=32, description="The signed-in person's national number.")


class AnswerIn(Strict):
    reason: str | None = Field(
        None, max_length=MAX_REASON, description="Why (shown to the person)."
    )


class SubjectIn(Strict):
    subject: str = Field(max_length=32)


def _engine(hub: Hub) -> RightsEngine:
    if hub.rights is None:
        raise Refusal("not_found", "this hub has no rights engine (CROSSROADS_RIGHTS_ENGINE).")
    return hub.rights


def _non_take_up(hub: Hub) -> NonTakeUp:
    if hub.non_take_up is None:
        raise Refusal("not_found", "this hub has no rights engine (CROSSROADS_RIGHTS_ENGINE).")
    return hub.non_take_up


def _person(request: Request, subject: str) -> str:
    """The signed-in citizen's own number: `subject` must be the person the session is about."""
    held = request.session.get("citizen")
    if not isinstance(held, str):
        raise Refusal("unauthenticated", "sign in as a citizen first: /citizen/login.")
    hub = hub_of(request)
    normalised = hub.scheme.normalise_person(subject, "subject")
    if hub.hasher.hex(normalised) != held:
        raise Refusal(
            "forbidden", "a person sees only their own rights: subject is not you.", "subject"
        )
    return normalised


def _outcomes(outcomes: list[RuleOutcome]) -> list[dict[str, Any]]:
    return [o.as_dict() for o in outcomes]


def _simulated(result: Simulated) -> dict[str, Any]:
    body: dict[str, Any] = {
        "rights": _outcomes(result.outcomes),
        "facts": [f.as_dict() for f in result.facts],
        "stored": False,
    }
    if result.before is not None:
        body["today"] = _outcomes(result.before)
    return body


def _decisions(decisions: list[Decision]) -> dict[str, Any]:
    return {"decisions": [d.explanation() for d in decisions]}


@router.get(
    "/v1/rights/rules",
    responses=answers(RuleBook, {}),
    summary="The rights decided, their rules' version, legal bases and parameters",
)
async def rules(request: Request) -> dict[str, Any]:
    hub = hub_of(request)
    return {"rule_version": hub.rules.version, "rights": hub.rules.rights()}


@router.post(
    "/v1/rights/simulations",
    responses=answers(Simulation, PUBLIC_ERRORS),
    summary="Anonymous simulation: the rights a typed situation gives, and why (nothing is kept)",
)
async def simulate(body: SituationIn, request: Request) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    return _simulated(await hub_of(request).rights_simulation.anonymous(changes))


@router.get(
    "/v1/citizen/rights",
    responses=answers(Decisions, PERSON_ERRORS),
    summary="Person: my rights, each decision with its explanation (facts, sources, rule)",
)
async def my_rights(request: Request, subject: str = Query(max_length=32)) -> dict[str, Any]:
    person = _person(request, subject)
    return _decisions(await _engine(hub_of(request)).of_person(person))


@router.post(
    "/v1/citizen/rights/simulations",
    responses=answers(Simulation, PERSON_ERRORS),
    summary="Person: what would I get if ... — from my real facts, with my changes (not kept)",
)
async def simulate_mine(body: PersonalSimulationIn, request: Request) -> dict[str, Any]:
    person = _person(request, body.subject)
    changes = body.model_dump(exclude_none=True, exclude={"subject"})
    return _simulated(await hub_of(request).rights_simulation.of_person(person, changes))


@router.get(
    "/v1/rights/decisions",
    responses=answers(Decisions, INSTITUTION_ERRORS),
    summary="Institution: the decisions it is competent for, newest first",
)
async def decisions(
    request: Request,
    status: Literal["pending", "confirmed", "refused"] | None = Query(None),
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    caller: Caller = Depends(member_application),
) -> dict[str, Any]:
    return _decisions(await _engine(hub_of(request)).of_institution(caller, status, limit))


@router.post(
    "/v1/rights/decisions/{decision_id}/confirm",
    responses=answers(DecisionOut, INSTITUTION_ERRORS),
    summary="Institution: confirm a decision it is competent for (audited)",
)
async def confirm(
    decision_id: str, body: AnswerIn, request: Request, caller: Caller = Depends(member_application)
) -> dict[str, Any]:
    engine = _engine(hub_of(request))
    return (await engine.answer(caller, decision_id[:100], True, body.reason)).explanation()


@router.post(
    "/v1/rights/decisions/{decision_id}/refuse",
    responses=answers(DecisionOut, INSTITUTION_ERRORS),
    summary="Institution: refuse a decision it is competent for, with a reason (audited)",
)
async def refuse(
    decision_id: str, body: AnswerIn, request: Request, caller: Caller = Depends(member_application)
) -> dict[str, Any]:
    engine = _engine(hub_of(request))
    return (await engine.answer(caller, decision_id[:100], False, body.reason)).explanation()


@router.get(
    "/v1/rights/non-take-up",
    responses=answers(Decisions, INSTITUTION_ERRORS),
    summary="Institution: the persons a non-take-up scan found that it is competent for",
)
async def non_take_up(
    request: Request, caller: Caller = Depends(member_application)
) -> dict[str, Any]:
    return _decisions(await _non_take_up(hub_of(request)).report(caller))


@router.get(
    "/admin/rights/decisions",
    responses=answers(
        Decisions, openapi_errors("unauthenticated", "forbidden", "malformed_request", "not_found")
    ),
    summary="Every institution's decisions, newest first, each with its explanation",
)
async def recent(
    request: Request,
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    caller: Caller = Depends(operator),
) -> dict[str, Any]:
    return _decisions(await _engine(hub_of(request)).recent(limit))


@router.post(
    "/admin/rights/evaluate",
    responses=answers(
        Decisions, openapi_errors("unauthenticated", "forbidden", "malformed_request", "not_found")
    ),
    summary="Re-evaluate one person's rights now (what a mutation about them does)",
)
async def evaluate(
    body: SubjectIn, request: Request, caller: Caller = Depends(operator)
) -> dict[str, Any]:
    return _decisions(await _engine(hub_of(request)).evaluate(body.subject))


@router.post(
    "/admin/rights/scan",
    responses=answers(ScanReport, openapi_errors("unauthenticated", "forbidden", "not_found")),
    summary="Scan the population for non-take-up and send each finding to its institution",
)
async def scan(request: Request, caller: Caller = Depends(operator)) -> dict[str, Any]:
    actor = caller.actor.id if caller.actor is not None else "operator"
    report = await _non_take_up(hub_of(request)).scan(actor)
    return {
        "persons": report.persons,
        "found": report.found,
        "decisions": report.decisions,
        "seconds": round(report.seconds, 3),
    }
