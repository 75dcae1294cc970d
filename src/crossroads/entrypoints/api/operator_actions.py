"""The operator's forms, posted: each change goes through the service the admin API's route for
the same change calls (the registry's use cases bound to the operator, four eyes, the mutation
service), so that it is checked, audited with the operator as its actor and, with four eyes on,
proposed rather than applied, exactly as through the API.

Each post asks, in the API's order, for a signed-in operator, the session's CSRF token, and the
permission the API route asks (`edit`); a refusal of those is the refusal page with the API's
code. A value the form or the service refuses comes back as the page, with the form as it was
typed and the error beside its field; that refusal is audited as the API's would be. A change
that succeeded leaves a notice in the session and sends the browser back to the page (303).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from ...domain.callers import Caller
from ...domain.errors import Refusal
from ...domain.mutations import MutationType
from ...domain.operators import Actor
from ...domain.proposals import Proposal
from ...domain.registry import (
    INTEGRATION_LEGAL_BASIS_LENGTH,
    Application,
    Authorization,
    Institution,
    IntegrationRight,
)
from ...templates.i18n import N_
from .csrf import checked_form
from .dependencies import hub_of
from .errors import audit_refusal
from .hub_router import HubRouter
from .json_input import JSONRoute
from .operator_form_context import Posted, leave_notice
from .operator_forms import (
    FORM_BY_ID,
    FormError,
    checked,
    day,
    field_errors,
    json_object,
    lines,
    listed,
    numbers,
    optional,
    optional_day,
    text,
    wording,
)
from .operator_pages import registry_page, signed_in_operator

router = HubRouter(route_class=JSONRoute, prefix="/operator", include_in_schema=False)

Notice = tuple[str, dict[str, str]]  # a translatable sentence and its placeholders
Change = Callable[[Request, Actor, dict[str, str]], Awaitable[Notice]]
# Refusals that are about who asks, not about what was typed: the refusal page, as the API's.
NOT_ABOUT_THE_FORM = frozenset(
    {"unauthenticated", "forbidden", "role_required", "csrf_failed", "own_proposal"}
)
SAVED = N_("Saved.")
PROPOSED = N_(
    "Four eyes: the change is proposal %(id)s, applied once another operator approves it."
)


async def signed_in_actor(request: Request) -> Actor:
    actor = await signed_in_operator(request)
    if actor is None:
        raise Refusal("unauthenticated", "sign in first (/operator/login).")
    request.state.caller = Caller.of_operator(actor)  # a refusal from here on names them
    return actor


async def act(request: Request, page: str, form_id: str, change: Change) -> Response:
    actor = await signed_in_actor(request)
    values = await checked_form(request, hub_of(request).settings.issuer)
    form = FORM_BY_ID[form_id]
    actor.require(form.permission)
    try:
        message, params = await change(request, actor, values)
    except FormError as error:
        await audit_refusal(request, Refusal("malformed_request", error.message, error.field))
        return await registry_page(
            request, actor, page, Posted(form_id, values, field_errors(form, error)), 400
        )
    except Refusal as refusal:
        if refusal.code in NOT_ABOUT_THE_FORM:
            raise
        await audit_refusal(request, refusal)
        posted = Posted(form_id, values, field_errors(form, refusal))
        return await registry_page(request, actor, page, posted, refusal.status)
    leave_notice(request, message, **params)
    return RedirectResponse(f"/operator/{page}", status_code=303)


def outcome_notice(outcome: object) -> Notice:
    """The notice for a change four eyes may have turned into a proposal."""
    if isinstance(outcome, Proposal):
        return PROPOSED, {"id": outcome.id}
    return SAVED, {}


def add_form_route(router: APIRouter, path: str, page: str, form_id: str, change: Change) -> None:
    """POST `path` (under the router's /operator): the form `form_id`, sent back to `page`."""

    async def route(request: Request) -> Response:
        return await act(request, page, form_id, change)

    route.__name__ = f"operator_{form_id.replace('-', '_')}"
    router.add_api_route(path, route, methods=["POST"])


# Members and applications: through four eyes, as the API's routes (a new key, address or peer
# is proposed; what only takes away is applied at once) ----------------------------------------


async def put_member(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    member = Institution(
        text(form, "enterprise_number"),
        text(form, "name"),
        text(form, "member_class"),
        optional(form, "base_url"),
        lines(form, "webhook_bases"),
        optional(form, "peer"),
    )
    return outcome_notice(await hub_of(request).four_eyes.put(member, actor))


async def remove_member(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    number = text(form, "enterprise_number")
    await hub_of(request).registry.by(actor.id).delete("institution", (number,))
    return SAVED, {}


async def put_application(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    application = Application(
        text(form, "institution"), text(form, "code"), text(form, "name"), json_object(form, "jwks")
    )
    return outcome_notice(await hub_of(request).four_eyes.put(application, actor))


async def _application(request: Request, form: dict[str, str]) -> Application:
    institution, _, code = text(form, "application").partition(":")
    return await hub_of(request).registry_queries.application(institution, code)


async def register_key(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    application = await _application(request, form)
    key = json_object(form, "jwk")
    added = key.get("keys") if isinstance(key.get("keys"), list) else [key]
    kids = {k.get("kid") for k in added if isinstance(k, dict)}
    kept = [k for k in application.jwks.get("keys", []) if k.get("kid") not in kids]
    rotated = replace(application, jwks={"keys": [*kept, *added]})
    return outcome_notice(await hub_of(request).four_eyes.put(rotated, actor))


async def set_active(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    application = await _application(request, form)
    switched = replace(application, active=checked(form, "active"))
    return outcome_notice(await hub_of(request).four_eyes.put(switched, actor))


# Authorizations and integration rights: through four eyes, as the API's routes ---------------


def _reference(form: dict[str, str]) -> str:
    reference = text(form, "reference")
    if len(reference) > 100:  # the API's own limit, with its words
        raise Refusal(
            "malformed_request", "the reference is 1-100 characters, e.g. ISC/24/123.", "reference"
        )
    return reference


async def put_authorization(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    authorization = Authorization(
        reference=_reference(form),
        consumer=text(form, "consumer"),
        service=text(form, "service"),
        purpose=text(form, "purpose"),
        legal_basis=text(form, "legal_basis"),
        legal_basis_translations=wording(form, "legal_basis"),
        required_capacities=listed(form, "required_capacities", required=False),
        allowed_fields=listed(form, "allowed_fields"),
        valid_from=day(form, "valid_from"),
        valid_to=optional_day(form, "valid_to"),
        accepts_provisional=checked(form, "accepts_provisional"),
    )
    return outcome_notice(await hub_of(request).four_eyes.put(authorization, actor))


async def end_authorization(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    hub = hub_of(request)
    last_day = day(form, "valid_to")
    authorization = await hub.registry_queries.authorization(text(form, "reference"))
    ended = replace(authorization, valid_to=last_day)
    return outcome_notice(await hub.four_eyes.put(ended, actor))


async def put_right(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    right = IntegrationRight(
        text(form, "institution"),
        text(form, "capacity"),
        text(form, "legal_basis", False),
        wording(form, "legal_basis", INTEGRATION_LEGAL_BASIS_LENGTH),
    )
    return outcome_notice(await hub_of(request).four_eyes.put(right, actor))


async def withdraw_right(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    institution, _, capacity = text(form, "right").partition("/")
    four_eyes = hub_of(request).four_eyes
    return outcome_notice(
        await four_eyes.delete("integration_right", (institution, capacity), actor)
    )


# Mutation types and dead letters: the mutation service ---------------------------------------


async def put_mutation_type(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    await hub_of(request).mutations.put_type(
        MutationType(
            code=text(form, "code"),
            version=text(form, "version"),
            name=text(form, "name"),
            publisher=text(form, "publisher"),
            fields=listed(form, "fields"),
            schema=json_object(form, "schema"),
            description=text(form, "description", False),
            name_translations=wording(form, "name"),
            description_translations=wording(form, "description"),
        ),
        actor.id,
    )
    return SAVED, {}


REPLAYED = N_("%(count)s messages are queued again.")


async def replay(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    count = await hub_of(request).mutations.replay(numbers(form, "seqs"), actor.id)
    return REPLAYED, {"count": str(count)}


DROPPED = N_("%(count)s messages are dropped.")


async def drop(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    count = await hub_of(request).mutations.drop(numbers(form, "seqs"), actor.id)
    return DROPPED, {"count": str(count)}


for _path, _page, _form, _change in (
    ("/members", "members", "add-member", put_member),
    ("/members/remove", "members", "remove-member", remove_member),
    ("/applications", "applications", "add-application", put_application),
    ("/applications/keys", "applications", "register-key", register_key),
    ("/applications/active", "applications", "application-active", set_active),
    ("/authorizations", "authorizations", "add-authorization", put_authorization),
    ("/authorizations/end", "authorizations", "end-authorization", end_authorization),
    ("/integration-rights", "integration-rights", "add-integration-right", put_right),
    (
        "/integration-rights/withdraw",
        "integration-rights",
        "withdraw-integration-right",
        withdraw_right,
    ),
    ("/mutation-types", "mutation-types", "add-mutation-type", put_mutation_type),
    ("/dead-letters/replay", "dead-letters", "replay", replay),
    ("/dead-letters/drop", "dead-letters", "drop", drop),
):
    add_form_route(router, _path, _page, _form, _change)
