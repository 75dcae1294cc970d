"""The reference directory over HTTP: changes, bulk import, and the operator's queries."""

from __future__ import annotations

from fastapi import Depends, Request

from ...domain.callers import Caller
from ...domain.errors import Refusal
from ...domain.operators import Permission
from ...domain.periods import Period
from ...services.directory_lines import read_import
from .answer_models import DirectoryAnswer, DirectoryChanged, ImportReport
from .dependencies import ClockDep, DirectoryDep, InitialSyncDep
from .errors import openapi_errors
from .hub_router import HubRouter
from .json_input import JSONRoute
from .openapi_models import answers
from .responses import JSONBody
from .schemas import DirectoryChangeIn, DirectoryQueryIn
from .security import application_or_operator, operator_for

router = HubRouter(route_class=JSONRoute, prefix="/v1/directory", tags=["directory"])
ERRORS = openapi_errors(
    "unauthenticated",
    "member_busy",
    "forbidden",
    "malformed_request",
    "invalid_identifier",
    "invalid_period",
    "not_found",
    "unsupported_media_type",
    "payload_too_large",
)
_FORMATS = {
    "text/csv": "csv",
    "application/jsonl": "jsonl",
    "application/x-ndjson": "jsonl",
    "application/jsonlines": "jsonl",
}


def _actor(caller: Caller) -> str:
    if caller.actor is not None:
        return caller.actor.id
    return caller.client_id or "?"


@router.post(
    "/changes",
    status_code=200,
    responses=answers(DirectoryChanged, ERRORS),
    summary="Integrate, end or remove one person's integration",
)
async def change(
    body: DirectoryChangeIn,
    directory: DirectoryDep,
    initial_sync: InitialSyncDep,
    caller: Caller = Depends(application_or_operator()),
) -> dict:
    raw = body.model_dump(mode="json", exclude_none=True)
    if not raw.pop("sync", False):
        await directory.change(raw, caller.institution, _actor(caller))
        return {"status": "applied"}
    queued = await initial_sync.integrate(raw, caller.institution, _actor(caller))
    return {"status": "applied", "synchronised": queued}


@router.post(
    "/import",
    responses=answers(ImportReport, ERRORS),
    summary="Bulk integration from a CSV or JSON Lines body",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/jsonl": {"schema": {"type": "string"}},
            },
        }
    },
)
async def bulk_import(
    request: Request, directory: DirectoryDep, caller: Caller = Depends(application_or_operator())
) -> JSONBody:
    media = request.headers.get("content-type", "").split(";")[0].strip()
    if media not in _FORMATS:
        raise Refusal(
            "unsupported_media_type", "send text/csv (with a header row) or application/jsonl."
        )
    report = await directory.import_lines(
        read_import(await request.body(), _FORMATS[media]), caller.institution, _actor(caller)
    )
    return JSONBody(report.as_dict())


@router.post(
    "/query",
    responses=answers(DirectoryAnswer, ERRORS),
    summary="Operator: who holds a person; does an institution hold them",
    dependencies=[Depends(operator_for(Permission.READ))],  # a query changes nothing
)
async def query(body: DirectoryQueryIn, directory: DirectoryDep, clock: ClockDep) -> dict:
    found = await directory.holders(body.subject, body.capacity, body.date)
    answer: dict = {
        "holders": [
            {
                "institution": i.institution,
                "capacity": i.capacity,
                "phase": i.phase.value,
                **i.period.as_dict(),
            }
            for i in found
        ]
    }
    if body.institution is not None:
        wanted = (
            Period(body.period.start, body.period.end)
            if body.period
            else Period.day(body.date or clock.today())
        )
        answer["holds"] = await directory.holds(
            body.subject, body.institution, body.capacities, wanted
        )
    return answer
