"""The services', capacities' and routed providers' forms, posted (operator_actions.act: signed
in, CSRF, `edit`, errors beside their fields, audited): each change through the registry's use
cases bound to the operator, as the admin API's PUT and DELETE routes for the same change make
it, so that it is checked and audited with the operator as its actor; a service's, through four
eyes as the API's (sent to another institution, it is proposed)."""

from __future__ import annotations

from fastapi import Request

from ...domain.operators import Actor
from ...domain.registry import Capacity, RoutedProvider, Service
from .dependencies import hub_of
from .hub_router import HubRouter
from .json_input import JSONRoute
from .operator_actions import SAVED, Notice, add_form_route, outcome_notice
from .operator_forms import json_object, listed, optional, text, wording

router = HubRouter(route_class=JSONRoute, prefix="/operator", include_in_schema=False)


async def put_service(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    service = Service(
        code=text(form, "code"),
        version=text(form, "version"),
        name=text(form, "name"),
        description=text(form, "description", False),
        name_translations=wording(form, "name"),
        description_translations=wording(form, "description"),
        provider=optional(form, "provider"),
        routed_capacity=optional(form, "routed_capacity"),
        path=text(form, "path", False),
        request_schema=json_object(form, "request_schema"),
        response_schema=json_object(form, "response_schema"),
        response_fields=listed(form, "response_fields"),
    )
    return outcome_notice(await hub_of(request).four_eyes.put(service, actor))


async def remove_service(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    code, _, version = text(form, "service").partition("/")
    await hub_of(request).registry.by(actor.id).delete("service", (code, version))
    return SAVED, {}


async def put_capacity(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    capacity = Capacity(text(form, "code"), text(form, "name"), wording(form, "name"))
    await hub_of(request).registry.by(actor.id).put_capacity(capacity)
    return SAVED, {}


async def remove_capacity(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    await hub_of(request).registry.by(actor.id).delete("capacity", (text(form, "code"),))
    return SAVED, {}


async def put_routed_provider(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    provider = RoutedProvider(text(form, "service"), text(form, "institution"))
    await hub_of(request).registry.by(actor.id).put_routed_provider(provider)
    return SAVED, {}


async def remove_routed_provider(request: Request, actor: Actor, form: dict[str, str]) -> Notice:
    service, _, institution = text(form, "provider").partition("/")
    await hub_of(request).registry.by(actor.id).delete("routed_provider", (service, institution))
    return SAVED, {}


for _path, _page, _form, _change in (
    ("/services", "services", "add-service", put_service),
    ("/services/remove", "services", "remove-service", remove_service),
    ("/capacities", "capacities", "add-capacity", put_capacity),
    ("/capacities/remove", "capacities", "remove-capacity", remove_capacity),
    ("/routed-providers", "routed-providers", "add-routed-provider", put_routed_provider),
    (
        "/routed-providers/remove",
        "routed-providers",
        "remove-routed-provider",
        remove_routed_provider,
    ),
):
    add_form_route(router, _path, _page, _form, _change)
