"""The citizen's personal page: their data as the authentic sources hold it, asked through the
hub under their own access (services/personal_data.py) each time the page is opened.

Each section names the source that answered and the authorization (and legal basis) the look-up
was made under; a source that could not answer says so, with the refusal's code. Each look-up is
in the audit log under the person's keyed hash, and so in their list of who consulted their data.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import HTMLResponse

from ...bootstrap import Hub
from ...domain.errors import Refusal
from ...services.personal_data import SourceAnswer
from ...templates.i18n import N_
from .csrf import csrf_token
from .dependencies import hub_of
from .hub_router import HubRouter
from .json_input import JSONRoute
from .pages import page
from .rights_explanations import explained, rights_of

router = HubRouter(route_class=JSONRoute, include_in_schema=False)
# The sections the page draws in their own shape; any other service is shown field by field.
SHAPED = frozenset(
    {
        "person.identity",
        "person.address",
        "person.household",
        "dimona.periods",
        "health.affiliation",
    }
)
# The sections the page draws, by a title in the reader's language (others by the registry's name).
TITLES = {
    "person.identity": N_("Identity"),
    "person.address": N_("Main residence"),
    "person.household": N_("Household"),
    "dimona.periods": N_("Employment declared by your employers (DIMONA)"),
    "health.affiliation": N_("Health insurance"),
}
# How the register's household relations read (its codes otherwise).
RELATIONS = {
    "REF": N_("you (reference person)"),
    "PARTNER": N_("partner"),
    "CHILD": N_("child"),
    "PARENT": N_("parent"),
}


def identifier_of(request: Request) -> str:
    """The signed-in citizen's identifier, opened from their session; else `unauthenticated`."""
    sealed = request.session.get("sealed")
    identifier = hub_of(request).identifier_seal.open(sealed) if isinstance(sealed, str) else None
    if identifier is None or not isinstance(request.session.get("citizen"), str):
        raise Refusal("unauthenticated", "sign in as a citizen first: /citizen/login.")
    return identifier


def _section(answer: SourceAnswer) -> dict:
    data = answer.data if isinstance(answer.data, dict) else {}
    return {
        "service": answer.service,
        "name": answer.service_name,
        "name_translations": answer.service_name_translations,
        "shaped": answer.service in SHAPED,
        "title": TITLES.get(answer.service),
        "source": answer.provider_name or answer.provider,
        "authorization": answer.authorization.reference,
        "legal_basis": answer.authorization.legal_basis,
        "legal_basis_translations": answer.authorization.legal_basis_translations,
        "data": data,
        "fields": sorted(data.items()),
        "refusal": answer.refusal.code if answer.refusal else None,
        "refusal_message": answer.refusal.message if answer.refusal else None,
        "request_id": answer.request_id,
    }


@router.get("/citizen/data")
async def my_data(request: Request):
    return await data_page(request)


async def data_page(
    request: Request, status: int = 200, report_error: dict | None = None
) -> HTMLResponse:
    """The person's data page; after a report the form refused, `report_error` (the section's
    service, the message as typed, the refusal's code and English detail) beside that form's
    field, answered with the refusal's status."""
    identifier = identifier_of(request)
    hub = hub_of(request)
    # A link on another site opens this page in the signed-in person's browser (the session
    # cookie is sent on a top-level GET): the sources would be asked, and the look-ups logged as
    # the person's own, without the person having asked. Such a visit shows the page without
    # asking; the person asks with one click on the hub's own link.
    held_back = request.headers.get("sec-fetch-site") in ("cross-site", "same-site")
    answers = [] if held_back else await hub.personal_data.of(identifier)
    reports = await hub.data_reports.of_person(identifier)
    names = {a.service: a.service_name for a in answers}
    response = page(
        request,
        "citizen_data.html",
        status,
        report_error=report_error,
        configured=hub.personal_data.institution is not None,
        held_back=held_back,
        sections=[_section(a) for a in answers],
        relations=RELATIONS,
        csrf=csrf_token(request),
        reported=request.query_params.get("reported") == "1",
        reports=[
            {
                "service": names.get(r.service, r.service),
                "title": TITLES.get(r.service),
                "source": await _name(hub, r.source),
                "received_at_ms": r.received_at_ms,
                "message": r.message,
                "closed_at_ms": r.closed_at_ms,
                "answer": r.answer,
            }
            for r in reports
        ],
        dev_idp=hub.dev_idp is not None,
        rights=await _named(hub, await rights_of(hub, identifier)),
        **explained(),
    )
    if report_error:
        response.headers["X-Road-Error"] = report_error["code"]
    return response


async def _named(hub: Hub, decisions: list[dict] | None) -> list[dict] | None:
    """The decisions with their competent institution by name, as the person knows it."""
    if decisions is None:
        return None
    for d in decisions:
        if d["competent_institution"]:
            d["competent_institution"] = await _name(hub, d["competent_institution"])
    return decisions


async def _name(hub: Hub, number: str) -> str:
    found = await hub.registry_queries.find_institution(number)
    return found.name if found else number
