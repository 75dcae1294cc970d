"""Employer declarations over HTTP, shaped like the social security's DIMONA REST service:
POST a declaration, get 201 and its Location; GET it for the status (A, W, B or S), the DIMONA
period id and the anomalies. Batch files are uploaded, processed in the background, and polled.

What an institution may read (one declaration, or the list) is `readable_by`'s: what it sent, and
what was made for it as an employer by any payroll office; the portal's pages show the same.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request, Response

from ...domain.callers import Caller
from ...domain.errors import Refusal
from ...services.batch_processing import declaration_out
from .answer_models import (
    Acknowledgement,
    BatchOut,
    DeclarationOut,
    DeclarationPage,
    ReadableDeclaration,
)
from .dependencies import DeclarationBatchesDep, DeclarationQueriesDep, DeclarationsDep
from .errors import openapi_errors
from .form_upload import announced_size
from .hub_router import HubRouter
from .json_input import MAX_VALUES, JSONRoute, read_json
from .languages import language_of
from .openapi_models import answers
from .security import member_application

router = HubRouter(route_class=JSONRoute, tags=["declarations"])
RowId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The number the hub gave it.")]
BATCH_PREFIX = "/v1/declarations/batches/"
ERRORS = openapi_errors(
    "unauthenticated",
    "member_busy",
    "forbidden",
    "malformed_request",
    "malformed_xml",
    "forbidden_xml",
    "unsupported_media_type",
    "payload_too_large",
    "no_mandate",
    "not_found",
    "invalid_identifier",
)
BATCH_ERRORS = openapi_errors(
    "unauthenticated",
    "member_busy",
    "malformed_request",
    "unsupported_media_type",
    "payload_too_large",
    "not_found",
    "quota_exceeded",
)
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "The official form's fields, element names as keys.",
                }
            },
            "application/xml": {
                "schema": {"type": "string", "description": "The official XML document."}
            },
        },
    }
}


# What one form may hold: a DIMONA form is a few dozen values in a few KiB, read on the event loop
# (services/declarations.py says why), so it is bounded tightly; a quarter's DmfA for a large
# employer holds tens of thousands of values (larger files go as a batch, read by the batch worker).
_DIMONA_VALUES = 2_000
_DIMONA_BYTES = 64 * 1024


async def _document(
    request: Request, max_values: int = MAX_VALUES, max_bytes: int | None = None
) -> bytes | dict:
    """The body as XML bytes or a parsed JSON object, by its Content-Type."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if max_bytes is not None and len(body) > max_bytes:
        raise Refusal(
            "payload_too_large",
            f"one form is at most {max_bytes // 1024} KiB; send several as a batch file "
            "(POST /v1/declarations/batches).",
        )
    if media in ("application/xml", "text/xml"):
        return body
    if media != "application/json":
        raise Refusal(
            "unsupported_media_type", "send the declaration as application/json or application/xml."
        )
    parsed = read_json(body, max_values)
    if not isinstance(parsed, dict):
        raise Refusal("malformed_request", "the declaration is a JSON object.")
    return parsed


def _created(response: Response, declaration) -> dict:
    response.status_code = 201
    response.headers["Location"] = f"/v1/declarations/{declaration.id}"
    return declaration_out(declaration)


@router.post(
    "/v1/declarations/dimona",
    responses=answers(DeclarationOut, ERRORS, 201),
    status_code=201,
    openapi_extra=_BODY,
    summary=(
        "Declare one DIMONA form (IN, OUT, update, cancel); 201 with the declaration's Location"
    ),
)
async def post_dimona(
    request: Request,
    declarations: DeclarationsDep,
    response: Response,
    caller: Caller = Depends(member_application),
) -> dict:
    declaration = await declarations.submit_dimona(
        caller,
        await _document(request, _DIMONA_VALUES, _DIMONA_BYTES),
        language_of(request.headers.get("accept-language")),
    )
    return _created(response, declaration)


@router.post(
    "/v1/declarations/dmfa",
    responses=answers(DeclarationOut, ERRORS, 201),
    status_code=201,
    openapi_extra=_BODY,
    summary="Declare a quarter's DmfA (up to the body limit; larger files as a batch)",
)
async def post_dmfa(
    request: Request,
    declarations: DeclarationsDep,
    response: Response,
    caller: Caller = Depends(member_application),
) -> dict:
    declaration = await declarations.submit_dmfa(
        caller, await _document(request), language_of(request.headers.get("accept-language"))
    )
    return _created(response, declaration)


@router.post(
    "/v1/declarations/social-risk/{scenario}",
    responses=answers(DeclarationOut, ERRORS, 201),
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
    summary=(
        "Declare a social risk: unemployment.end-of-employment, unemployment.temporary-hours,"
        " incapacity.work"
    ),
)
async def post_social_risk(
    scenario: str,
    request: Request,
    declarations: DeclarationsDep,
    response: Response,
    caller: Caller = Depends(member_application),
) -> dict:
    document = await _document(request)
    if isinstance(document, bytes):
        raise Refusal(
            "unsupported_media_type", "social-risk declarations are sent as application/json."
        )
    named = document.get("language")  # the body may name it; its schema checks the value
    declaration = await declarations.submit_social_risk(
        caller,
        scenario,
        document,
        language_of(
            request.headers.get("accept-language") or (named if isinstance(named, str) else None)
        ),
    )
    return _created(response, declaration)


PAGE_SIZE = 50


def _readable_out(declaration) -> dict:
    """A declaration as a reader gets it, with who sent it (`sentBy`: the sender's institution,
    the employer's own number or a payroll office's)."""
    return {**declaration_out(declaration), "sentBy": declaration.declarant.split(":", 1)[0]}


@router.get(
    "/v1/declarations",
    responses=answers(
        DeclarationPage, openapi_errors("unauthenticated", "member_busy", "malformed_request")
    ),
    summary=(
        "The declarations the institution may read, newest first, 50 a page: what it sent, and"
        " every declaration made for it as an employer (by itself or by any payroll office)"
    ),
)
async def list_declarations(
    queries: DeclarationQueriesDep,
    caller: Caller = Depends(member_application),
    before: int | None = Query(
        None, ge=1, le=2**63 - 1, description="Only declarations numbered below (next_before)."
    ),
) -> dict:
    found = await queries.declarations_readable_by(caller.institution or "", before, PAGE_SIZE)
    return {
        "declarations": [_readable_out(d) for d in found],
        "next_before": found[-1].id if len(found) == PAGE_SIZE else None,
    }


@router.get(
    "/v1/declarations/{declaration_id}",
    responses=answers(ReadableDeclaration, ERRORS),
    summary=(
        "A declaration's status: result A (accepted), W (with warnings), B (refused) or S (being"
        " processed)"
    ),
)
async def get_declaration(
    declaration_id: RowId,
    declarations: DeclarationsDep,
    caller: Caller = Depends(member_application),
) -> dict:
    return _readable_out(await declarations.declaration(caller, declaration_id))


@router.post(
    BATCH_PREFIX + "{kind}",
    responses=answers(BatchOut, BATCH_ERRORS, 202, also=(200,)),
    status_code=202,
    openapi_extra=_BODY,
    summary=(
        "Upload a batch file (many DIMONA forms, or a whole DmfA): 202 with its Location; the"
        " same file again: 200"
    ),
)
async def post_batch(
    kind: str,
    request: Request,
    batches: DeclarationBatchesDep,
    response: Response,
    caller: Caller = Depends(member_application),
) -> dict:
    content_type = request.headers.get("content-type", "")
    # What needs no body is refused before the body (up to 128 MB) is received and held; not the
    # quota: the same file sent again (a client retrying an upload whose answer it lost) is
    # answered 200 with its batch, full quota or not, which only its bytes tell.
    await batches.admissible(caller, kind, content_type, announced_size(request), quota=False)
    batch, created = await batches.upload(
        caller,
        kind,
        await request.body(),
        content_type,
        language_of(request.headers.get("accept-language")),
    )
    response.status_code = 202 if created else 200
    response.headers["Location"] = f"{BATCH_PREFIX}{batch.id}"
    return _batch_out(batch, created)


@router.get(
    BATCH_PREFIX + "{batch_id}",
    responses=answers(BatchOut, ERRORS),
    summary=(
        "A batch file's status (S while waiting or being processed, then A, W or B) and, once"
        " done, its acknowledgement"
    ),
)
async def get_batch(
    batch_id: RowId, batches: DeclarationBatchesDep, caller: Caller = Depends(member_application)
) -> dict:
    batch, _ = await batches.status(caller, batch_id)
    return _batch_out(batch)


@router.get(
    BATCH_PREFIX + "{batch_id}/acknowledgement",
    responses=answers(Acknowledgement, ERRORS),
    summary=(
        "The acknowledgement of a processed batch: every form's declaration with its status and"
        " anomalies"
    ),
)
async def get_acknowledgement(
    batch_id: RowId,
    batches: DeclarationBatchesDep,
    response: Response,
    caller: Caller = Depends(member_application),
) -> dict:
    batch, _ = await batches.status(caller, batch_id)
    if batch.acknowledgement is None:
        response.status_code = 202
        return {"batchId": batch.id, "result": batch.status}
    return batch.acknowledgement


def _batch_out(batch, created: bool | None = None) -> dict:
    out = {
        "batchId": batch.id,
        "kind": batch.kind,
        "result": batch.status,
        "sha256": batch.sha256,
        "receivedAt": batch.received_at_ms,
        "doneAt": batch.done_at_ms,
    }
    if created is False:
        out["duplicate"] = True
    if batch.acknowledgement is not None:
        out["acknowledgement"] = f"{BATCH_PREFIX}{batch.id}/acknowledgement"
    return out
