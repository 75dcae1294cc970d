"""POST /v1/exchange/{service}: the exchange, and POST /v1/holders: who holds a file on a person."""

from __future__ import annotations

import base64
import hashlib

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from ...domain.callers import Caller
from ...domain.errors import Refusal
from ...domain.periods import Period
from ...services.exchange import ExchangeRequest, ExchangeResult
from .dependencies import ExchangeDep, hub_of
from .errors import openapi_errors, refusal_from_errors, request_id
from .hub_router import HubRouter
from .json_input import JSONRoute, read_json
from .member_slots import member_slot
from .metrics import observe
from .responses import JSONBody
from .schemas import ExchangeIn, ExchangeOut, HoldersIn
from .security import application, member_application

router = HubRouter(route_class=JSONRoute, tags=["exchange"])

EXCHANGE_ERRORS = openapi_errors(
    "unauthenticated",
    "forbidden",
    "no_authorization",
    "authorization_expired",
    "subject_not_in_directory",
    "capacity_mismatch",
    "period_outside_integration",
    "invalid_identifier",
    "invalid_period",
    "unknown_service",
    "malformed_request",
    "unsupported_media_type",
    "payload_too_large",
    "member_busy",
    "no_provider",
    "provider_unavailable",
    "provider_timeout",
    "provider_error",
    "invalid_provider_response",
    "internal_error",
)


def period_of(body: ExchangeIn | HoldersIn) -> Period | None:
    if body.date is not None and body.period is not None:
        raise Refusal("malformed_request", "give either date or period, not both.", "period")
    if body.date is not None:
        return Period.day(body.date)
    if body.period is not None:
        return Period(body.period.start, body.period.end)
    return None


def request_hash(request: Request, raw: bytes) -> str:
    """X-Road's proof of which request an answer belongs to: base64 of SHA-512(SHA-512(headers)
    + SHA-512(body)), or of SHA-512(headers) without a body. "headers" is the request line
    (`METHOD target`) then each header as received (`name: value`, the name in lower case), each
    line ended by CRLF; docs/govstack.md says so for a client that checks it."""
    # Built from the bytes as received: the same bytes as decoding each header as latin-1 and
    # encoding the whole again, without a string per header on every exchange.
    scope = request.scope
    target = scope.get("raw_path", b"")
    query = scope.get("query_string", b"")
    if query:
        target += b"?" + query
    text = b"".join(
        [
            request.method.encode("latin-1"),
            b" ",
            target,
            b"\r\n",
            *(b"%s: %s\r\n" % (name, value) for name, value in scope["headers"]),
        ]
    )
    headers = hashlib.sha512(text)
    if not raw:
        return base64.b64encode(headers.digest()).decode()
    both = hashlib.sha512(headers.digest() + hashlib.sha512(raw).digest())
    return base64.b64encode(both.digest()).decode()


def exchange_body(result: ExchangeResult) -> dict:
    """The exchange's answer, the same on our path and on X-Road's."""
    return {
        "request_id": result.request_id,
        "service": result.service,
        "version": result.version,
        "authorization": result.authorization.reference,
        "legal_basis": result.authorization.legal_basis,
        "period": result.period.as_dict(),
        "answers": [
            {"provider": a.provider, "data": a.data}
            if a.error is None
            else {"provider": a.provider, "error": a.error.to_dict()}
            for a in result.answers
        ],
    }


def render_answer(result: ExchangeResult, request: Request, raw: bytes) -> JSONBody:
    return JSONBody(
        exchange_body(result),
        headers={
            "X-Request-Id": result.request_id,
            "X-Road-Id": result.request_id,
            "X-Road-Service": result.service,
            "X-Road-Request-Hash": request_hash(request, raw),
        },
    )


def _correlation(request: Request, xroad: str, ours: str) -> str | None:
    """The value of X-Road's header, else of ours (the first that is not empty), refused naming
    the header it came from when it is not at most 100 printable characters."""
    named = xroad if request.headers.get(xroad) else ours
    value = request.headers.get(named)
    if value is not None and (len(value) > 100 or not value.isprintable()):
        raise Refusal("malformed_request", f"{named} is at most 100 printable characters.", named)
    return value


def exchange_request(
    request: Request,
    caller: Caller,
    service: str,
    body: ExchangeIn | HoldersIn,
    provider: tuple[str, str] | None = None,
) -> ExchangeRequest:
    """The use case's request from an HTTP one; `provider`: the (member class, member code) an
    X-Road address named."""
    # The request id is always the hub's own, so that no two requests share one; an id the
    # caller sends is its correlation id, kept beside it in the audit record.
    sent = _correlation(request, "X-Road-Id", "X-Request-Id")
    user = _correlation(request, "X-Road-UserId", "X-User-Id")
    return ExchangeRequest(
        caller=caller,
        service=service,
        subject=body.subject,
        purpose=body.purpose,
        period=period_of(body),
        version=getattr(body, "version", None),
        authorization=body.authorization,
        parameters=getattr(body, "parameters", {}),
        user_id=user,
        request_id=request_id(request),
        client_request_id=sent,
        capacity=getattr(body, "capacity", None),
        provider=provider,
    )


def parse_body(model: type[BaseModel], raw: bytes, content_type: str | None) -> BaseModel:
    """Validate a JSON body straight from bytes, read as every route reads it (`read_json`), with
    no FastAPI body machinery: on the busiest route that cost more than the parsing itself."""
    if content_type is not None and content_type.split(";")[0].strip() not in (
        "application/json",
        "",
    ):
        raise Refusal("unsupported_media_type", "send the body as application/json.")
    try:
        return model.model_validate(read_json(raw))
    except ValidationError as exc:
        raise refusal_from_errors(exc.errors()) from None


def json_body(model: type[BaseModel]) -> dict:
    """The OpenAPI requestBody for a route that parses `model` itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


async def answer_exchange(request: Request, service: str) -> JSONBody:
    """The exchange over HTTP: authenticate, parse, run the use case, render. Refusals propagate.

    Reached from `direct.DirectRoute`, past FastAPI's router (the hot path); the FastAPI route
    below documents it in the OpenAPI document and serves it the same way if reached there."""
    caller = await application(request)
    with member_slot(request, caller.institution):
        raw = await request.body()
        body = parse_body(ExchangeIn, raw, request.headers.get("content-type"))
        asked = exchange_request(request, caller, service, body)
        with observe(service):
            result = await hub_of(request).exchange.handle(asked)
    return render_answer(result, request, raw)


EXCHANGE_PATH = "/v1/exchange/{service}"


@router.post(
    EXCHANGE_PATH,
    response_model=ExchangeOut,
    responses=EXCHANGE_ERRORS,
    summary="Ask a service about a subject, for a purpose, under an authorization",
    openapi_extra=json_body(ExchangeIn),
)
async def exchange(service: str, request: Request) -> JSONBody:
    return await answer_exchange(request, service)


EXCHANGE_ROUTE = next(r for r in router.routes if getattr(r, "path", None) == EXCHANGE_PATH)


@router.post(
    "/v1/holders",
    response_model=ExchangeOut,
    responses=EXCHANGE_ERRORS,
    summary="Which institutions hold a file on this person (built-in service directory.holders)",
)
async def holders(
    body: HoldersIn,
    request: Request,
    exchange: ExchangeDep,
    caller: Caller = Depends(member_application),
) -> JSONBody:
    asked = exchange_request(request, caller, "directory.holders", body)
    with member_slot(request, caller.institution), observe("directory.holders"):
        result = await exchange.holders(asked)
    return render_answer(result, request, await request.body())
