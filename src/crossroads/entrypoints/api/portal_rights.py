"""The portal's rights page: "what would I get if …", an anonymous simulation (docs/rights.md).

A GET form, so that it works without JavaScript and a result can be bookmarked; nothing typed is
kept. The rules, their legal bases and the parameter values come from the same simulation the API
answers (`POST /v1/rights/simulations`).
"""

from __future__ import annotations

from fastapi import Request

from ...domain.errors import Refusal
from ...templates.i18n import N_
from .dependencies import hub_of
from .hub_router import HubRouter
from .json_input import JSONRoute
from .pages import page

router = HubRouter(route_class=JSONRoute, include_in_schema=False)
RIGHT_NAMES = {
    "increased-reimbursement": N_("Increased reimbursement of health care"),
    "social-energy-tariff": N_("Social energy tariff"),
    "child-social-supplement": N_("Social supplement to the child benefit"),
}
NUMBERS = ("household_income", "adults", "children")
FLAGS = ("integration_income", "income_guarantee_elderly", "disability_allowance")


def _situation(request: Request) -> dict | None:
    """The typed situation, or None when the form was not sent; Refusal when unreadable."""
    query = request.query_params
    if "household_income" not in query:
        return None
    changes: dict = {flag: query.get(flag) == "on" for flag in FLAGS}
    for name in NUMBERS:
        raw = query.get(name, "").strip().replace(",", ".")
        try:
            changes[name] = float(raw) if name == "household_income" else int(raw or "0")
        except ValueError:
            raise Refusal("malformed_request", f"{name} is a number.", name) from None
    return changes


@router.get("/portal/rights")
async def rights(request: Request):
    try:
        situation = _situation(request)
        result = (
            None
            if situation is None
            else await hub_of(request).rights_simulation.anonymous(situation)
        )
    except Refusal as refusal:
        return page(
            request,
            "portal/rights.html",
            refusal.status,
            typed=dict(request.query_params),
            result=None,
            names=RIGHT_NAMES,
            invalid=refusal.field if refusal.code != "simulations_busy" else None,
            busy=refusal.code == "simulations_busy",
        )
    return page(
        request,
        "portal/rights.html",
        typed=dict(request.query_params),
        result=None if result is None else [o.as_dict() for o in result.outcomes],
        names=RIGHT_NAMES,
        invalid=None,
        busy=False,
    )
