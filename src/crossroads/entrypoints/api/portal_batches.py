"""The portal's file uploads for employers and payroll offices: a quarter's DmfA or many DIMONA
forms at once, handed to the declarations' batch queue (services/declaration_batches.py) as the
API's batch upload is; then the file's page, which follows its progress (it reloads itself while
the file waits or is processed: no JavaScript) and shows its acknowledgement once done.
"""

from __future__ import annotations

from fastapi import Path, Request
from fastapi.responses import RedirectResponse

from ...services.declaration_batches import KINDS
from .csrf import check
from .dependencies import DeclarationBatchesDep, DeclarationQueriesDep, SettingsDep
from .form_upload import read_upload
from .hub_router import HubRouter
from .json_input import JSONRoute
from .pages import language, page
from .portal_employer import NOT_BLOCKING, SEVERITIES, STATUSES, declarant, declaration_view
from .schemas import MAX_INTEGER

router = HubRouter(
    route_class=JSONRoute, prefix="/portal/employer/batches", include_in_schema=False
)
PREFIX = "/portal/employer/batches/"
REFRESH_SECONDS = 2


@router.get("")
async def uploads(request: Request, queries: DeclarationQueriesDep):
    who = declarant(request)
    return page(
        request,
        "portal/batches.html",
        kinds=KINDS,
        batches=await queries.batches_of(who.organisation),
        statuses=STATUSES,
    )


@router.post("/{kind}")
async def upload(
    request: Request, kind: str, batches: DeclarationBatchesDep, settings: SettingsDep
) -> RedirectResponse:
    who = declarant(request)
    sent = await read_upload(request, "file")
    check(request, sent.fields.get("csrf"), settings.issuer)
    media = "application/json" if sent.filename.lower().endswith(".json") else "application/xml"
    batch, _ = await batches.upload(who.caller, kind, sent.file, media, language(request)[0])
    return RedirectResponse(f"{PREFIX}{batch.id}", status_code=303)


@router.get("/{batch_id}")
async def progress(
    request: Request,
    batches: DeclarationBatchesDep,
    batch_id: int = Path(ge=1, le=MAX_INTEGER),
):
    who = declarant(request)
    batch, declared = await batches.status(who.caller, batch_id)
    locale = language(request)[0]
    waiting = batch.status == "S"
    response = page(
        request,
        "portal/batch.html",
        batch=batch,
        waiting=waiting,
        declarations=[declaration_view(d, locale) for d in declared],
        acknowledgement=batch.acknowledgement,
        statuses=STATUSES,
        severities=SEVERITIES,
        not_blocking=NOT_BLOCKING,
    )
    if waiting:  # the browser asks again until the file is done
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response
