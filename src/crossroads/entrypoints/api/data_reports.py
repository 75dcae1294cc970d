"""Reports of wrong data: the citizen's form (on their personal page) and the authentic source's
API, which reads the reports sent to it and closes each with an answer the citizen sees."""

from __future__ import annotations

from fastapi import Depends, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import Field

from ...domain.callers import Caller
from ...domain.data_reports import MAX_MESSAGE, DataReport
from ...domain.errors import Refusal
from .answer_models import DataReports
from .citizen_data import data_page, identifier_of
from .csrf import checked_form
from .dependencies import SettingsDep, hub_of
from .errors import audit_refusal, openapi_errors
from .hub_router import HubRouter
from .json_input import JSONRoute
from .openapi_models import answers
from .pages import form_page
from .schemas import MAX_INTEGER, Strict
from .security import member_application

router = HubRouter(route_class=JSONRoute, tags=["citizen"])
ERRORS = openapi_errors(
    "unauthenticated", "member_busy", "forbidden", "malformed_request", "not_found"
)


class CloseIn(Strict):
    answer: str = Field(
        description="What the source did about it, shown to the person.", max_length=MAX_MESSAGE
    )


@router.post("/citizen/report", include_in_schema=False)
async def report(request: Request, settings: SettingsDep) -> Response:
    """The personal page's form: which service's data is wrong, and what is wrong with it. A
    message refused (empty, too long, a character not allowed) brings the page back with the
    message as typed and the error beside it, audited as any refusal; so does a report over the
    person's bound of open reports about that data (`quota_exceeded`)."""
    form_page(request, "/citizen/data")
    identifier = identifier_of(request)
    form = await checked_form(request, settings.issuer)
    try:
        await hub_of(request).data_reports.report(
            identifier, form.get("service", ""), form.get("message")
        )
    except Refusal as refusal:
        if refusal.field != "message":
            raise
        await audit_refusal(request, refusal)
        error = {
            "service": form.get("service", ""),
            "message": form.get("message", ""),
            "code": refusal.code,
            "detail": refusal.message,
        }
        return await data_page(request, refusal.status, error)
    return RedirectResponse("/citizen/data?reported=1#reports", status_code=303)


def _out(r: DataReport) -> dict:
    return {
        "id": r.id,
        "service": r.service,
        "subject": r.subject,
        "message": r.message,
        "received_at_ms": r.received_at_ms,
        "closed_at_ms": r.closed_at_ms,
        "answer": r.answer,
    }


@router.get(
    "/v1/data-reports",
    responses=answers(DataReports, ERRORS),
    summary="Authentic source: the citizens' reports of wrong data sent to it, oldest first",
)
async def reports_for_source(
    request: Request,
    after: int = Query(0, ge=0, le=MAX_INTEGER),
    limit: int = Query(100, ge=1, le=500),
    caller: Caller = Depends(member_application),
) -> dict:
    found = await hub_of(request).data_reports.for_source(caller, after, limit)
    return {
        "reports": [_out(r) for r in found],
        "next_after": found[-1].id if len(found) == limit else None,
    }


@router.post(
    "/v1/data-reports/{report_id}/close",
    responses=ERRORS,
    status_code=204,
    summary="Authentic source: close a report with the answer the person will see",
)
async def close(
    request: Request,
    body: CloseIn,
    report_id: int = Path(ge=1, le=MAX_INTEGER),
    caller: Caller = Depends(member_application),
) -> Response:
    await hub_of(request).data_reports.close(caller, report_id, body.answer)
    return Response(status_code=204)
