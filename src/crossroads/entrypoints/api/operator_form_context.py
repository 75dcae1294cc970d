"""What a registry page needs to show its forms: the forms the signed-in operator's roles allow,
the choices of their lists (read through the registry's queries, as the tables are), the form
just posted with its values and errors, and the notice the last change left in the session.

A page shows no form its reader's roles would have refused: an auditor sees the tables alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from ...bootstrap import Hub
from ...domain.operators import Actor
from .operator_forms import FORMS

NOTICE = "operator_notice"  # the session's key for what the last change did


@dataclass(frozen=True)
class Posted:
    """A form sent back with what was typed and what was wrong with it."""

    form_id: str
    values: dict[str, str]
    errors: dict[str, dict[str, str]] = field(default_factory=dict)


def leave_notice(request: Request, message: str, **params: str) -> None:
    """Say on the next page what the change did (`message` a translatable sentence)."""
    request.session[NOTICE] = {"message": message, "params": params}


async def form_context(
    request: Request, hub: Hub, actor: Actor, page: str, posted: Posted | None = None
) -> dict[str, Any]:
    forms = [f for f in FORMS.get(page, ()) if actor.may(f.permission)]
    wanted = {f.options for form in forms for f in form.fields if f.options}
    return {
        "forms": forms,
        "options": await _options(hub, wanted) if wanted else {},
        "posted": posted,
        "notice": request.session.pop(NOTICE, None),
    }


async def _options(hub: Hub, wanted: set[str]) -> dict[str, list[tuple[str, str]]]:
    queries = hub.registry_queries
    options: dict[str, list[tuple[str, str]]] = {}
    institutions = await queries.institutions()
    options["institutions"] = [
        (i.enterprise_number, f"{i.name} ({i.enterprise_number})") for i in institutions
    ]
    if "applications" in wanted:
        options["applications"] = [
            (a.client_id, f"{a.client_id} ({a.name})") for a in await queries.applications()
        ]
    if "authorizations" in wanted:
        options["authorizations"] = [
            (a.reference, f"{a.reference} ({a.consumer}, {a.service})")
            for a in await queries.authorizations()
        ]
    if "capacities" in wanted:
        options["capacities"] = [
            (c.code, f"{c.name} ({c.code})") for c in await queries.capacities()
        ]
    if "rights" in wanted:
        options["rights"] = [
            (f"{r.institution}/{r.capacity}", f"{r.institution} / {r.capacity}")
            for r in await queries.integration_rights()
        ]
    if wanted & {"service-versions", "routed-services"}:
        services = await queries.services()
        options["service-versions"] = [
            (f"{s.code}/{s.version}", f"{s.code} {s.version} ({s.name})") for s in services
        ]
        routed = {s.code: s.name for s in services if s.routed_capacity}
        options["routed-services"] = [(c, f"{c} ({n})") for c, n in sorted(routed.items())]
    if "routed-providers" in wanted:
        options["routed-providers"] = [
            (f"{p.service}/{p.institution}", f"{p.service} / {p.institution}")
            for p in await queries.routed_providers()
        ]
    if "operators" in wanted:
        options["operators"] = [(o.id, o.id) for o in await hub.operators.list()]
    if "services" in wanted:
        codes = {s.code: s.name for s in await queries.services()}
        codes.update({t.code: t.name for t in await queries.mutation_types()})
        options["services"] = [(code, f"{code} ({name})") for code, name in sorted(codes.items())]
    return options
