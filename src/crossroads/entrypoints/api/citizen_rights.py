"""The signed-in person's rights on their personal page, and "what would I get if …" from their
real facts (docs/rights.md).

The rights are the engine's decisions about them, each with the explanation the competent
institution sees. The simulation is a form sent by POST (with the session's CSRF token), so that
what the person types stays out of addresses, browser history and access logs; the hub reads their
real facts through its services (audited, asked by `self`), applies the changes in memory and
keeps nothing of them.
"""

from __future__ import annotations

from fastapi import Request

from ...domain.errors import Refusal
from ...services.rights_facts import BENEFIT_FLAGS
from .citizen_data import identifier_of
from .csrf import checked_form, csrf_token
from .dependencies import SettingsDep, hub_of
from .errors import audit_refusal
from .hub_router import HubRouter
from .json_input import JSONRoute
from .pages import page
from .rights_explanations import explained

router = HubRouter(route_class=JSONRoute, include_in_schema=False)
# The form's fields: blank keeps the real fact; the checkboxes say what changes about benefits.
_WHOLE = ("adults", "children", "children_to_come")
_EUROS = ("household_income", "income_ending")
_CHANGES = ("unchanged", "yes", "no")


def changes_of(form: dict[str, str]) -> dict:
    """The typed changes; a blank field is the real fact. Refusal when a number is unreadable."""
    changes: dict = {}
    for name in (*_WHOLE, *_EUROS):
        raw = form.get(name, "").strip().replace(",", ".")[:20]
        if not raw:
            continue
        try:
            changes[name] = int(raw) if name in _WHOLE else float(raw)
        except ValueError:
            raise Refusal("malformed_request", f"{name} is a number.", name) from None
    for flag in BENEFIT_FLAGS:
        said = form.get(flag, "unchanged")
        if said not in _CHANGES:
            raise Refusal("malformed_request", f"{flag} is unchanged, yes or no.", flag)
        if said != "unchanged":
            changes[flag] = said == "yes"
    return changes


@router.get("/citizen/rights/simulation")
async def simulation_form(request: Request):
    identifier_of(request)
    return _page(request, {}, None, None)


@router.post("/citizen/rights/simulation")
async def simulate(request: Request, settings: SettingsDep):
    identifier = identifier_of(request)
    form = await checked_form(request, settings.issuer)
    typed = {k: v[:20] for k, v in form.items()}
    try:
        changes = changes_of(form)
        result = await hub_of(request).rights_simulation.of_person(identifier, changes)
    except Refusal as refusal:
        if refusal.code != "malformed_request":
            raise
        await audit_refusal(request, refusal)
        return _page(request, typed, None, refusal.field or "form", 400)
    return _page(request, typed, result, None)


def _page(request: Request, typed: dict, result, invalid: str | None, status: int = 200):
    hub = hub_of(request)
    return page(
        request,
        "citizen_rights.html",
        status,
        csrf=csrf_token(request),
        typed=typed,
        invalid=invalid,
        engine=hub.rights is not None,
        today=None if result is None else [o.as_dict() for o in result.before or []],
        after=None if result is None else [o.as_dict() for o in result.outcomes],
        facts=None if result is None else [f.as_dict() for f in result.facts],
        **explained(),
    )
