"""The portal's pages for employers and payroll offices: their overview (for whom they may
declare, the mandates given and received), every declaration they may read with who sent it and
its status, and one declaration with its anomalies explained in the reader's language.

What a page shows is what the declarations API would show the organisation: a declaration is
read through `DeclarationService.declaration` (`readable_by`), the list is
`DeclarationQueries.declarations_readable_by`, as `GET /v1/declarations` lists it: an employer
finds every declaration made for it, by itself or by any payroll office acting for it; a payroll
office what it sent. Anomalies are the official glossaries' (our French, English and German labels
where we have them, else the Dutch one, marked so).
"""

from __future__ import annotations

from fastapi import Path, Query, Request

from ...domain.declarations.anomalies import Anomaly
from ...domain.declarations.records import Declaration
from ...domain.professionals import EMPLOYER, PAYROLL_OFFICE, Professional
from ...services.clock import Clock
from ...services.declaration_queries import DeclarationQueries
from ...services.registry_queries import RegistryQueries
from ...templates.i18n import N_
from .dependencies import ClockDep, DeclarationQueriesDep, DeclarationsDep, RegistryQueriesDep
from .hub_router import HubRouter
from .json_input import JSONRoute
from .pages import language, page
from .portal_visitor import professional
from .schemas import MAX_INTEGER

router = HubRouter(route_class=JSONRoute, prefix="/portal/employer", include_in_schema=False)
PAGE_SIZE = 50
STATUSES = {
    "A": N_("accepted"),
    "W": N_("accepted with warnings"),
    "B": N_("refused"),
    "S": N_("being processed"),
}
SEVERITIES = {"B": N_("blocking")}
NOT_BLOCKING = N_("warning")


def declarant(request: Request) -> Professional:
    """The signed-in employer's representative or payroll office's clerk."""
    return professional(request, EMPLOYER, PAYROLL_OFFICE)


async def employers_of(
    who: Professional, queries: DeclarationQueries, clock: Clock
) -> list[dict[str, str]]:
    """The employers `who` may declare for today: their own enterprise, or those whose mandates
    the payroll office holds; each with its name from the employers' register."""
    register = {e.company_id: e.name for e in await queries.employers(limit=1000)}
    if who.kind == EMPLOYER:
        numbers = [who.organisation]
    else:
        today = clock.today()
        numbers = sorted(
            {
                m.employer
                for m in await queries.mandates(office=who.organisation, limit=1000)
                if m.valid_from <= today and (m.valid_to is None or today <= m.valid_to)
            }
        )
    return [{"number": n, "name": register.get(n, "")} for n in numbers]


def anomaly_view(anomaly: Anomaly, locale: str) -> dict:
    """An anomaly as the pages show it: its meaning in the reader's language where we have it."""
    label = anomaly.labels.get(locale)
    return {
        "code": anomaly.code,
        "severity": anomaly.severity,
        "blocking": anomaly.blocking,
        "label": label or anomaly.labels.get("nl", ""),
        "in_dutch": not label and locale != "nl",
        "path": anomaly.path,
        "detail": anomaly.detail,
    }


def declaration_view(
    d: Declaration, locale: str, reader: str = "", names: dict[str, str] | None = None
) -> dict:
    """A declaration as the pages show it to `reader` (an organisation's number): who sent it
    (`sender`, named from `names`) and whether the reader did (`own`: only then is its batch
    file the reader's to open)."""
    sender = d.declarant.split(":", 1)[0]
    return {
        "id": d.id,
        "sender": sender,
        "sender_name": (names or {}).get(sender, ""),
        "own": sender == reader,
        "kind": d.kind,
        "form": d.form,
        "employer": d.employer,
        "status": d.status,
        "received_at_ms": d.received_at_ms,
        "period_id": d.period_id if d.status != "B" else None,
        "batch_id": d.batch_id,
        "anomalies": [anomaly_view(a, locale) for a in d.anomalies],
    }


async def names_of(queries: DeclarationQueries, registry: RegistryQueries) -> dict[str, str]:
    """Enterprise number → name: the employers' register's, and the member institutions' (a
    payroll office is a member), so that a mandate names the other party, not only its number."""
    names = {e.company_id: e.name for e in await queries.employers(limit=1000)}
    names.update({i.enterprise_number: i.name for i in await registry.institutions()})
    return names


@router.get("/")
async def overview(
    request: Request,
    queries: DeclarationQueriesDep,
    registry: RegistryQueriesDep,
    clock: ClockDep,
):
    who = declarant(request)
    given = await queries.mandates(employer=who.organisation, limit=200)
    received = await queries.mandates(office=who.organisation, limit=200)
    return page(
        request,
        "portal/employer.html",
        who=who,
        employers=await employers_of(who, queries, clock),
        given=given,
        received=received,
        names=await names_of(queries, registry) if given or received else {},
    )


@router.get("/declarations")
async def declarations(
    request: Request,
    queries: DeclarationQueriesDep,
    registry: RegistryQueriesDep,
    before: int | None = Query(None, ge=1, le=MAX_INTEGER),
):
    who = declarant(request)
    found = await queries.declarations_readable_by(who.organisation, before, PAGE_SIZE)
    locale = _locale(request)
    names = await names_of(queries, registry) if found else {}
    return page(
        request,
        "portal/employer_declarations.html",
        who=who,
        declarations=[declaration_view(d, locale, who.organisation, names) for d in found],
        statuses=STATUSES,
        next_url=(
            f"/portal/employer/declarations?before={found[-1].id}"
            if len(found) == PAGE_SIZE
            else None
        ),
    )


@router.get("/declarations/{declaration_id}")
async def declaration(
    request: Request,
    service: DeclarationsDep,
    queries: DeclarationQueriesDep,
    registry: RegistryQueriesDep,
    declaration_id: int = Path(ge=1, le=MAX_INTEGER),
):
    who = declarant(request)
    found = await service.declaration(who.caller, declaration_id)
    names = await names_of(queries, registry)
    return page(
        request,
        "portal/employer_declaration.html",
        who=who,
        d=declaration_view(found, _locale(request), who.organisation, names),
        statuses=STATUSES,
        severities=SEVERITIES,
        not_blocking=NOT_BLOCKING,
    )


def _locale(request: Request) -> str:
    return language(request)[0]
