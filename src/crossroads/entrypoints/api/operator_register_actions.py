"""The operators', employers' and mandates' forms, posted (operator_actions.act: signed in, CSRF,
the form's permission, errors beside their fields, audited), as the admin API's routes for the
same changes: operators through four eyes (`manage`; a new operator, role or key is proposed when
four eyes is on; an admin's withdrawing their own role is refused), removed through the
operators' admin service (which refuses an admin's removing themselves); employers and mandates
through the declarations service (`edit`)."""

from __future__ import annotations

from fastapi import Request

from ...domain.operators import Actor, Operator, parse_roles
from .dependencies import hub_of
from .hub_router import HubRouter
from .json_input import JSONRoute
from .operator_actions import SAVED, Notice, add_form_route, outcome_notice
from .operator_forms import checked, day, json_object, listed, optional, optional_day, text

router = HubRouter(route_class=JSONRoute, prefix="/operator", include_in_schema=False)


async def put_operator(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    jwks = json_object(form, "jwks") if form.get("jwks", "").strip() else None
    operator = Operator(
        text(form, "operator_id"),
        parse_roles(list(listed(form, "roles"))),
        checked(form, "active"),
        jwks,
    )
    return outcome_notice(await hub_of(request).four_eyes.put_operator(operator, actor))


async def remove_operator(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    await hub_of(request).operators.delete(text(form, "operator_id"), actor)
    return SAVED, {}


async def put_employer(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    await hub_of(request).declarations.put_employer(
        text(form, "company_id"),
        optional(form, "noss"),
        text(form, "name"),
        checked(form, "active"),
        actor.id,
    )
    return SAVED, {}


async def put_mandate(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    await hub_of(request).declarations.put_mandate(
        text(form, "office"),
        text(form, "employer"),
        day(form, "valid_from"),
        optional_day(form, "valid_to"),
        actor.id,
    )
    return SAVED, {}


for _path, _page, _form, _change in (
    ("/operators", "operators", "add-operator", put_operator),
    ("/operators/remove", "operators", "remove-operator", remove_operator),
    ("/employers", "employers", "add-employer", put_employer),
    ("/mandates", "mandates", "add-mandate", put_mandate),
):
    add_form_route(router, _path, _page, _form, _change)
