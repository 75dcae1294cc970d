"""The portal's file uploads for employers and payroll offices: a quarter's DmfA or many DIMONA
forms at once, handed to the declarations' batch queue (services/declaration_batches.py) as the
API's batch upload is; then the file's page, which follows its progress (it reloads itself while
the file waits or is processed: no JavaScript) and shows its acknowledgement once done.
"""

from __future__ import annotations

from fastapi import Path, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.responses import Response

from ...domain.errors import Refusal
from ...domain.professionals import Professional
from ...services.declaration_batches import JSON, KINDS, XML
from ...services.declaration_queries import DeclarationQueries
from .csrf import FIELD, check, check_before_body
from .dependencies import DeclarationBatchesDep, DeclarationQueriesDep, SettingsDep
from .errors import audit_refusal
from .form_upload import FORM_OVERHEAD_BYTES, announced_size, read_upload
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
    return await _uploads_page(request, declarant(request), queries)


async def _uploads_page(
    request: Request,
    who: Professional,
    queries: DeclarationQueries,
    status: int = 200,
    error: dict | None = None,
) -> Response:
    """The upload forms and the files sent; after a form sent without its file, `error` (the
    form's kind, the code and the English detail) beside that form's field."""
    response = page(
        request,
        "portal/batches.html",
        status,
        kinds=KINDS,
        batches=await queries.batches_of(who.organisation),
        statuses=STATUSES,
        error=error,
    )
    if error:
        response.headers["X-Road-Error"] = error["code"]
    return response


@router.post("/{kind}")
async def upload(
    request: Request,
    kind: str,
    batches: DeclarationBatchesDep,
    queries: DeclarationQueriesDep,
    settings: SettingsDep,
) -> Response:
    who = declarant(request)
    # Everything that needs no body is refused before the body is read: a file of up to 128 MB
    # takes time to receive and memory to hold, which a refused one must not cost.
    check_before_body(request, settings.issuer)
    at_least = max(0, announced_size(request) - FORM_OVERHEAD_BYTES)  # the file, without the form
    await batches.admissible(who.caller, kind, XML, at_least)
    try:
        sent = await read_upload(
            request, "file", lambda fields: check(request, fields.get(FIELD), settings.issuer)
        )
    except Refusal as refusal:
        if refusal.field != "file":  # not a form's mistake (not a form at all)
            raise
        await audit_refusal(request, refusal)
        return await _uploads_page(
            request,
            who,
            queries,
            status=refusal.status,
            error={"kind": kind, "code": refusal.code, "detail": refusal.message},
        )
    media = JSON if sent.filename.lower().endswith(".json") else XML
    batch, _ = await batches.upload(who.caller, kind, sent.file, media, language(request)[0])
    return RedirectResponse(f"{PREFIX}{batch.id}", status_code=303)


@router.get("/{batch_id:int}/acknowledgement")
async def acknowledgement(
    request: Request,
    batches: DeclarationBatchesDep,
    batch_id: int = Path(ge=1, le=MAX_INTEGER),
) -> JSONResponse:
    """The acknowledgement as the API gives it (`GET /v1/declarations/batches/{id}/
    acknowledgement`), for the signed-in declarant whose file it is: the page's link, since the
    API asks for an application's token a browser does not have."""
    who = declarant(request)
    batch, _ = await batches.status(who.caller, batch_id)
    if batch.acknowledgement is None:
        return JSONResponse({"batchId": batch.id, "result": batch.status}, status_code=202)
    return JSONResponse(batch.acknowledgement)


@router.get("/{batch_id:int}")
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
        # Why a whole file was refused (not XML, not a form...): the acknowledgement's error.
        refusal=(batch.acknowledgement or {}).get("error"),
        statuses=STATUSES,
        severities=SEVERITIES,
        not_blocking=NOT_BLOCKING,
    )
    if waiting:  # the browser asks again until the file is done
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response
