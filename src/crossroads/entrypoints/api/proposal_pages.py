"""The operator's four-eyes page: the proposals waiting for a second operator and those decided,
and, for an operator whose roles grant `approve`, the buttons to approve or reject each.

Approving and rejecting go through the four-eyes service the admin API's proposal routes call
(services/four_eyes.py), which audits both under the deciding operator. An operator is shown no
approve button on their own proposal, and one posted anyway is refused as the API refuses it
(`own_proposal`); rejecting their own withdraws it, as the API allows.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.responses import HTMLResponse, Response

from ...domain.errors import Refusal
from ...domain.operators import Actor, Permission
from ...domain.proposals import PENDING
from ...templates.i18n import N_
from .csrf import checked_form
from .dependencies import hub_of
from .errors import audit_refusal
from .hub_router import HubRouter
from .json_input import JSONRoute
from .operator_actions import NOT_ABOUT_THE_FORM, signed_in_actor
from .operator_form_context import NOTICE, leave_notice
from .operator_forms import MAX_TEXT, REFUSAL_SENTENCES
from .operator_pages import operator_context, signed_in_operator
from .pages import page

router = HubRouter(route_class=JSONRoute, prefix="/operator", include_in_schema=False)

APPROVED = N_("Proposal %(id)s is approved: the change is applied.")
REJECTED = N_("Proposal %(id)s is rejected.")


async def _proposals_page(
    request: Request, actor: Actor, error: dict[str, str] | None = None, status: int = 200
) -> HTMLResponse:
    four_eyes = hub_of(request).four_eyes
    proposals = await four_eyes.list()
    return page(
        request,
        "portal/operator/proposals.html",
        status,
        **operator_context(request, actor),
        four_eyes_on=four_eyes.enabled,
        pending=[p for p in proposals if p.state == PENDING],
        decided=[p for p in proposals if p.state != PENDING][-100:],
        may_approve=actor.may(Permission.APPROVE),
        error=error,
        notice=request.session.pop(NOTICE, None),
    )


@router.get("/proposals")
async def proposals(request: Request) -> HTMLResponse:
    actor = await signed_in_operator(request)
    if actor is None:
        return page(request, "portal/operator/sign_in.html")
    actor.require(Permission.READ)
    return await _proposals_page(request, actor)


@router.post("/proposals/{proposal_id}/{decision}")
async def decide(request: Request, proposal_id: str, decision: str) -> Response:
    """Approve or reject a proposal (`approve`, as POST /admin/proposals/{id}/approve|reject)."""
    actor = await signed_in_actor(request)
    form = await checked_form(request, hub_of(request).settings.issuer)
    actor.require(Permission.APPROVE)
    four_eyes = hub_of(request).four_eyes
    try:
        if decision == "approve":
            await four_eyes.approve(proposal_id, actor)
            leave_notice(request, APPROVED, id=proposal_id)
        elif decision == "reject":
            reason = form.get("reason", "").strip()[:MAX_TEXT] or None
            await four_eyes.reject(proposal_id, actor, reason)
            leave_notice(request, REJECTED, id=proposal_id)
        else:
            raise Refusal("not_found", f"a proposal is approved or rejected, not {decision[:20]}.")
    except Refusal as refusal:
        if refusal.code in NOT_ABOUT_THE_FORM:
            raise
        await audit_refusal(request, refusal)
        sentence = REFUSAL_SENTENCES.get(refusal.code, N_("The hub refused this change."))
        error = {"message": sentence, "detail": refusal.message}
        return await _proposals_page(request, actor, error, refusal.status)
    return RedirectResponse("/operator/proposals", status_code=303)
