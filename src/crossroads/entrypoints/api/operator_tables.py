"""The operator's registry pages as tables: what each lists, its columns, and its rows, read
through the registry's query service (the admin API's own reads).

A column has a kind that says how the template writes its cells (templates/portal/operator/
table.html): text, code, a list of codes, a day or a validity in the reader's language, a yes or
no, a registry text in the reader's language. The tables are one template, so that each page
has the same captions, header cells and scrolling region, checked once by axe-core.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from ...bootstrap import Hub
from ...domain.registry import Authorization
from ...templates.i18n import N_
from .operator_register_tables import REGISTER_ROWS, REGISTER_TABLES
from .operator_table_model import Column, Table
from .purposes import purpose_label


def valid_on(authorization: Authorization, today: date) -> bool:
    return authorization.valid_from <= today and (
        authorization.valid_to is None or today <= authorization.valid_to
    )


TABLES: dict[str, Table] = {
    "members": Table(
        N_("Members"),
        N_("The institutions that take part in the exchange, as the registry holds them."),
        (
            Column(N_("Enterprise number"), "code"),
            Column(N_("Name")),
            Column(N_("Member class"), "code"),
            Column(N_("Provider address"), "code"),
            Column(N_("Member of peer hub"), "code"),
            Column(N_("Applications"), "codes"),
        ),
        N_("No institution is registered yet."),
    ),
    "applications": Table(
        N_("Applications and keys"),
        N_(
            "Each member's applications, whether they may ask for tokens, and the public keys "
            "they sign their client assertions with."
        ),
        (
            Column(N_("Institution")),
            Column(N_("Application"), "code"),
            Column(N_("Name")),
            Column(N_("Active"), "yesno"),
            Column(N_("Keys (kid)"), "codes"),
        ),
        N_("No application is registered yet."),
    ),
    "services": Table(
        N_("Services"),
        N_(
            "The electronic services the hub routes, their authentic source or the capacity "
            "that routes them, and the fields they answer."
        ),
        (
            Column(N_("Code"), "code"),
            Column(N_("Version"), "code"),
            Column(N_("Name"), "worded"),
            Column(N_("Authentic source")),
            Column(N_("Routed by capacity"), "code"),
            Column(N_("Fields"), "codes"),
        ),
        N_("No service is registered yet."),
    ),
    "routed-providers": Table(
        N_("Routed providers"),
        N_(
            "The institutions a routed service's requests may be sent to, for the persons the "
            "reference directory says they hold in the service's capacity."
        ),
        (Column(N_("Service"), "code"), Column(N_("Institution"))),
        N_("No provider of a routed service is registered yet."),
    ),
    "capacities": Table(
        N_("Capacities"),
        N_("The roles in which an institution holds a person in the reference directory."),
        (Column(N_("Code"), "code"), Column(N_("Name"), "worded")),
        N_("No capacity is registered yet."),
    ),
    "authorizations": Table(
        N_("Authorizations"),
        N_("Who may receive what, for which purpose, on which legal basis, and for how long."),
        (
            Column(N_("Authorization"), "code"),
            Column(N_("Institution")),
            Column(N_("Service or change"), "code"),
            Column(N_("Purpose"), "purpose"),
            Column(N_("Legal basis"), "worded"),
            Column(N_("Fields it may receive"), "codes"),
            Column(N_("Held in the reference directory as"), "codes"),
            Column(N_("Valid"), "validity"),
        ),
        N_("No authorization is registered yet."),
    ),
    "integration-rights": Table(
        N_("Integration rights"),
        N_(
            "Which institution may integrate persons in the reference directory in which "
            "capacity, and on which legal basis."
        ),
        (
            Column(N_("Institution")),
            Column(N_("Capacity"), "code"),
            Column(N_("Legal basis"), "worded"),
        ),
        N_("No integration right is registered yet."),
    ),
    "mutation-types": Table(
        N_("Mutation types"),
        N_("The kinds of change the authentic sources publish, their publisher and fields."),
        (
            Column(N_("Code"), "code"),
            Column(N_("Version"), "code"),
            Column(N_("Name"), "worded"),
            Column(N_("Publisher")),
            Column(N_("Fields"), "codes"),
        ),
        N_("No mutation type is registered yet."),
    ),
    **REGISTER_TABLES,
}


async def rows_of(name: str, hub: Hub, after: str = "") -> tuple[list[list[Any]], str | None]:
    """The table's rows, and where its next page starts (`after`), or None: the last page.
    Only the employers' register and the mandates come a page at a time."""
    if name in REGISTER_ROWS:
        return await REGISTER_ROWS[name](hub, after)
    return await _ROWS[name](hub), None


async def _names(hub: Hub) -> dict[str, str]:
    return {i.enterprise_number: i.name for i in await hub.registry_queries.institutions()}


async def _members(hub: Hub) -> list[list[Any]]:
    queries = hub.registry_queries
    applications: dict[str, list[str]] = {}
    for application in await queries.applications():
        applications.setdefault(application.institution, []).append(application.code)
    return [
        [
            i.enterprise_number,
            i.name,
            i.member_class,
            i.base_url or "",
            i.peer or "",
            applications.get(i.enterprise_number, []),
        ]
        for i in await queries.institutions()
    ]


async def _applications(hub: Hub) -> list[list[Any]]:
    names = await _names(hub)
    return [
        [
            names.get(a.institution, a.institution),
            a.code,
            a.name,
            a.active,
            [str(k.get("kid", "?")) for k in a.jwks.get("keys", [])],
        ]
        for a in await hub.registry_queries.applications()
    ]


async def _services(hub: Hub) -> list[list[Any]]:
    names = await _names(hub)
    return [
        [
            s.code,
            s.version,
            (s.name, s.name_translations),
            names.get(s.provider, s.provider) if s.provider else "",
            s.routed_capacity or "",
            list(s.response_fields),
        ]
        for s in await hub.registry_queries.services()
    ]


async def _routed_providers(hub: Hub) -> list[list[Any]]:
    names = await _names(hub)
    return [
        [p.service, names.get(p.institution, p.institution)]
        for p in await hub.registry_queries.routed_providers()
    ]


async def _capacities(hub: Hub) -> list[list[Any]]:
    return [
        [c.code, (c.name, c.name_translations)] for c in await hub.registry_queries.capacities()
    ]


async def _authorizations(hub: Hub) -> list[list[Any]]:
    names = await _names(hub)
    today = hub.clock.today()
    return [
        [
            a.reference,
            names.get(a.consumer, a.consumer),
            a.service,
            (a.purpose, purpose_label(a.purpose)),
            (a.legal_basis, a.legal_basis_translations),
            list(a.allowed_fields),
            list(a.required_capacities),
            (a.valid_from, a.valid_to, valid_on(a, today)),
        ]
        for a in await hub.registry_queries.authorizations()
    ]


async def _integration_rights(hub: Hub) -> list[list[Any]]:
    names = await _names(hub)
    return [
        [
            names.get(r.institution, r.institution),
            r.capacity,
            (r.legal_basis, r.legal_basis_translations),
        ]
        for r in await hub.registry_queries.integration_rights()
    ]


async def _mutation_types(hub: Hub) -> list[list[Any]]:
    names = await _names(hub)
    return [
        [
            t.code,
            t.version,
            (t.name, t.name_translations),
            names.get(t.publisher, t.publisher),
            list(t.fields),
        ]
        for t in await hub.registry_queries.mutation_types()
    ]


_ROWS: dict[str, Callable[[Hub], Awaitable[list[list[Any]]]]] = {
    "members": _members,
    "applications": _applications,
    "services": _services,
    "routed-providers": _routed_providers,
    "capacities": _capacities,
    "authorizations": _authorizations,
    "integration-rights": _integration_rights,
    "mutation-types": _mutation_types,
}
