"""X-Road's REST message protocol (r1): the exchange at `/r1/{instance}/{class}/{member}/
{subsystem}/{service}`, so that an unchanged X-Road REST client asks Crossroads' services.

The same exchange as `POST /v1/exchange/{service}` (services/exchange.py: authorization,
purpose, directory, audit), reached at X-Road's address and answered with X-Road's headers:
`X-Road-Client` (mandatory, and it must name the token's application), `X-Road-Id` (the caller's,
else the hub's request id), `X-Road-Request-Id`, `X-Road-Service`, `X-Road-Request-Hash`, and on a
refusal `X-Road-Error` with the body `{type, message, detail}`. What X-Road has no header for,
the purpose, the authorization and the capacity, come in the body or in our `X-Crossroads-…`
headers (docs/govstack.md).

Served, like our own exchange, before FastAPI's router (`XRoadMessages`, see direct.py for why);
the FastAPI route below documents it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.responses import Response

from ...domain.errors import Refusal
from ...domain.registry import HUB_MEMBER
from .dependencies import hub_of
from .discovery import PROVIDER_SUBSYSTEM, ROUTED_SUBSYSTEM
from .errors import (
    RETRY_AFTER_SECONDS,
    audit_refusal,
    openapi_errors,
    refusal_from_errors,
    refusal_response,
    request_id,
    unaudited,
)
from .exchange import EXCHANGE_ERRORS, exchange_body, exchange_request, json_body, request_hash
from .hub_router import HubRouter
from .json_input import JSONRoute, read_json
from .member_slots import member_slot
from .metrics import observe
from .openapi_models import XRoadError, answers
from .responses import JSONBody
from .schemas import ExchangeIn, ExchangeOut
from .security import application

router = HubRouter(route_class=JSONRoute, tags=["x-road"])
PATH = "/r1/{instance}/{memberClass}/{memberCode}/{subsystem}/{serviceCode}"
# Path segments after /r1/ that are not a service: the metadata services and the Pub/Sub rooms.
METADATA = frozenset({"listMethods", "allowedMethods", "getOpenAPI"})
ROOM_PARTS = frozenset({"api", "pub", "pull"})
HEADER_FIELDS = (
    ("x-crossroads-purpose", "purpose"),
    ("x-crossroads-authorization", "authorization"),
    ("x-crossroads-capacity", "capacity"),
)


def error_type(refusal: Refusal) -> str:
    """X-Road's error type: `Client.` for what the caller can fix, `Server.ServerProxy.` for the
    provider's side, `Server.ClientProxy.` for the hub's own."""
    if refusal.status < 500:
        return f"Client.{refusal.code}"
    if refusal.code.startswith("provider_") or refusal.code == "invalid_provider_response":
        return f"Server.ServerProxy.{refusal.code}"
    return f"Server.ClientProxy.{refusal.code}"


def _xroad_error(request: Request, refusal: Refusal, raw: bytes) -> JSONBody:
    kind = error_type(refusal)
    rid = request_id(request)
    headers = {
        "X-Road-Error": kind,
        "X-Request-Id": rid,
        "X-Road-Request-Id": rid,
        "X-Road-Id": request.headers.get("x-road-id") or rid,
        "X-Road-Request-Hash": request_hash(request, raw),
    }
    if refusal.code in RETRY_AFTER_SECONDS:  # a transient refusal says when to come back
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS[refusal.code])
    return JSONBody(
        {"type": kind, "message": refusal.message, "detail": rid},
        status_code=refusal.status,
        headers=headers,
    )


def _body(request: Request, raw: bytes) -> ExchangeIn:
    content_type = request.headers.get("content-type")
    if content_type is not None and content_type.split(";")[0].strip() not in (
        "application/json",
        "",
    ):
        raise Refusal("unsupported_media_type", "send the body as application/json.")
    data: Any = read_json(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise Refusal("malformed_request", "the body is a JSON object.")
    for header, field in HEADER_FIELDS:
        value = request.headers.get(header)
        if value is None:
            continue
        if field in data and data[field] != value:
            raise Refusal(
                "malformed_request", f"the {field} header and the body name two values.", field
            )
        data[field] = value
    try:
        return ExchangeIn.model_validate(data)
    except ValidationError as exc:
        raise refusal_from_errors(exc.errors()) from None


async def _refused(request: Request, refusal: Refusal, raw: bytes) -> Response:
    """Audit the refusal once, then render it X-Road's way."""
    try:
        await audit_refusal(request, refusal)
    except Exception:
        refusal = unaudited(request, refusal)
    return _xroad_error(request, refusal, raw)


async def refusal_before_routing(request: Request, refusal: Refusal) -> Response:
    """A refusal by a layer in front of the routes (a bad path, a repeated header), in the
    form the address speaks: X-Road's on an r1 service address, ours elsewhere."""
    if service_parts(request.url.path) is not None:
        return await _refused(request, refusal, b"")
    return await refusal_response(request, refusal)


async def answer_r1(request: Request, parts: list[str]) -> Response:
    """One X-Road request: `parts` are instance, class, member, subsystem, service and what
    follows the service, if anything. Every refusal is audited once, then rendered X-Road's way."""
    raw = b""
    try:
        caller = await application(request)
        client = request.headers.get("x-road-client")
        if client is None:
            raise Refusal(
                "malformed_request",
                "X-Road-Client names the calling application: INSTANCE/CLASS/MEMBER/APPLICATION.",
                "X-Road-Client",
            )
        instance, member_class, member, subsystem, service, *below = parts
        if request.method != "POST":
            raise Refusal("method_not_allowed", "a Crossroads service is asked with POST.")
        wanted = ROUTED_SUBSYSTEM if member == HUB_MEMBER else PROVIDER_SUBSYSTEM
        if below or instance != hub_of(request).settings.instance or subsystem != wanted:
            raise Refusal(
                "unknown_service",
                f"no service at {'/'.join(parts)[:300]} in this instance: services are at "
                f"/r1/INSTANCE/CLASS/MEMBER/{PROVIDER_SUBSYSTEM}/SERVICE (routed ones under "
                f"{HUB_MEMBER}/{ROUTED_SUBSYSTEM}).",
                "service",
            )
        with member_slot(request, caller.institution):
            raw = await request.body()
            asked = exchange_request(
                request, caller, service, _body(request, raw), provider=(member_class, member)
            )
            with observe(service):
                result = await hub_of(request).exchange.handle(asked)
    except Refusal as refusal:
        return await _refused(request, refusal, raw)
    return JSONBody(
        exchange_body(result),
        headers={
            "X-Request-Id": result.request_id,
            "X-Road-Request-Id": result.request_id,
            "X-Road-Id": asked.client_request_id or result.request_id,
            "X-Road-Client": client,
            "X-Road-Service": "/".join(parts[:5]),
            "X-Road-Request-Hash": request_hash(request, raw),
        },
    )


def _xroad_errors(errors: dict) -> dict:
    """Our error statuses, each with X-Road's error body instead of ours."""
    return {
        status: {"model": XRoadError, "description": answer["description"]}
        for status, answer in errors.items()
    }


@router.post(
    PATH,
    responses=answers(
        ExchangeOut, _xroad_errors(EXCHANGE_ERRORS | openapi_errors("method_not_allowed"))
    ),
    summary=(
        "X-Road REST (r1): ask a service at its provider's address; refusals carry X-Road-Error"
        " and {type, message, detail}"
    ),
    openapi_extra=json_body(ExchangeIn),
)
async def xroad_exchange(
    instance: str,
    memberClass: str,
    memberCode: str,
    subsystem: str,
    serviceCode: str,
    request: Request,
) -> Response:
    return await answer_r1(request, [instance, memberClass, memberCode, subsystem, serviceCode])


ROUTE = next(r for r in router.routes if getattr(r, "path", None) == PATH)


def service_parts(path: str) -> list[str] | None:
    """The parts of an r1 service address, or None for a path that is not one (the metadata
    services, the Pub/Sub rooms, anything shorter)."""
    if not path.startswith("/r1/"):
        return None
    parts = path[4:].split("/")
    if len(parts) < 5 or not all(parts[:5]):
        return None
    if len(parts) == 5 and parts[4] in METADATA:
        return None
    if len(parts) > 5 and parts[4] in ROOM_PARTS:
        return None
    return parts


class XRoadMessages:
    """Serve r1 service addresses with `answer_r1` before FastAPI's router; pass the rest on."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        parts = service_parts(scope["path"]) if scope["type"] == "http" else None
        if parts is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = ROUTE
        request = Request(scope, receive)
        response = await answer_r1(request, parts)
        await response(scope, receive, send)
