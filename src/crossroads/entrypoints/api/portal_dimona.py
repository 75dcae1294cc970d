"""The portal's DIMONA forms: IN, OUT, update and cancel, declared through the declarations
service as the signed-in organisation (`Professional.caller`), for itself or under a mandate.

The server checks each field first (dimona_form.check) and shows the form again with each
mistake beside its field; then the declarations service decides (A, W or B), and the form is
shown again, with the glossary's anomalies beside the fields they point at, when it refused; else
the declaration's page. Everything works without JavaScript.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse

from ...domain.errors import Refusal
from . import dimona_form
from .csrf import checked_form
from .dependencies import (
    ClockDep,
    DeclarationQueriesDep,
    DeclarationsDep,
    SchemeDep,
    SettingsDep,
)
from .hub_router import HubRouter
from .json_input import JSONRoute
from .pages import language, page
from .portal_employer import NOT_BLOCKING, SEVERITIES, anomaly_view, declarant, employers_of

router = HubRouter(route_class=JSONRoute, prefix="/portal/employer/dimona", include_in_schema=False)


def _kind(kind: str) -> str:
    if kind not in dimona_form.FORMS:
        raise Refusal("not_found", f"there is no DIMONA form {kind!r}: in, out, update or cancel.")
    return kind


def _form_page(request: Request, kind: str, employers: list, values: dict, **context):
    return page(
        request,
        "portal/dimona_form.html",
        status=context.pop("status", 200),
        kind=kind,
        title=dimona_form.TITLES[kind],
        fields=dimona_form.FIELDS[kind],
        worker_types=dimona_form.WORKER_TYPES,
        employers=employers,
        values=values,
        errors=context.pop("errors", {}),
        anomalies=context.pop("anomalies", {}),
        general=context.pop("general", []),
        severities=SEVERITIES,
        not_blocking=NOT_BLOCKING,
        **context,
    )


@router.get("/{kind}")
async def blank(request: Request, kind: str, queries: DeclarationQueriesDep, clock: ClockDep):
    who = declarant(request)
    employers = await employers_of(who, queries, clock)
    values = {"joint_committee": "XXX", "worker_type": "OTH"}
    if len(employers) == 1:
        values["employer"] = employers[0]["number"]
    return _form_page(request, _kind(kind), employers, values)


@router.post("/{kind}")
async def declare(
    request: Request,
    kind: str,
    queries: DeclarationQueriesDep,
    service: DeclarationsDep,
    clock: ClockDep,
    scheme: SchemeDep,
    settings: SettingsDep,
):
    who = declarant(request)
    kind = _kind(kind)
    values = await checked_form(request, settings.issuer)
    employers = await employers_of(who, queries, clock)
    errors = dimona_form.check(kind, values, [e["number"] for e in employers], scheme)
    if errors:
        return _form_page(request, kind, employers, values, errors=errors, status=422)
    locale = language(request)[0]
    declared = await service.submit_dimona(who.caller, dimona_form.document(kind, values), locale)
    if declared.status != "B":
        return RedirectResponse(
            f"/portal/employer/declarations/{declared.id}?done=1", status_code=303
        )
    by_field: dict[str, list[dict]] = {}
    general = []
    for anomaly in declared.anomalies:
        field = dimona_form.field_of(kind, anomaly)
        shown = anomaly_view(anomaly, locale)
        if field:
            by_field.setdefault(field, []).append(shown)
        else:
            general.append(shown)
    return _form_page(
        request,
        kind,
        employers,
        values,
        anomalies=by_field,
        general=general,
        refused_id=declared.id,
        status=422,
    )
