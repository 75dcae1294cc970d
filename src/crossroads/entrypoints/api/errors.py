"""Rendering refusals: every error is JSON `{code, message, field?, request_id}` with its status,
except on the citizen's pages, where it is the page with the message.

Refusals raised outside a use case that audits them (a bad token, a malformed body, an unknown
path) are audited here, so that every refusal the hub gives is in the log.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ...domain.audit import AuditRecord
from ...domain.errors import CATALOGUE, Refusal
from ...services.auth import RevokedCredential
from ...templates import render
from .responses import JSONBody

log = logging.getLogger("crossroads.api")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.state.request_id = str(uuid.uuid4())
    return rid


def error_response(request: Request, refusal: Refusal) -> JSONBody:
    body = {**refusal.to_dict(), "request_id": request_id(request)}
    headers = {"X-Request-Id": body["request_id"], "X-Road-Error": refusal.code}
    if refusal.code == "request_timeout":  # the rest of a body that came too slowly is not read
        headers["Connection"] = "close"
    if refusal.status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"' if refusal.code == "unauthenticated" else "Bearer"
    return JSONBody(body, status_code=refusal.status, headers=headers)


def _is_citizen_page(path: str) -> bool:
    # The citizen's pages are read in a browser: a refusal there (a sign-in that failed) is a page
    # saying what happened, with a way to try again; /v1/citizen/… stays JSON.
    return path == "/citizen" or path.startswith("/citizen/")


def citizen_error_page(request: Request, refusal: Refusal) -> Response:
    hub = request.app.state.hub
    page = render("citizen.html", status=refusal.status, signed_in=False, dev_idp=hub.dev_idp is not None,
                  login_url="/citizen/login" if hub.citizen_signin is not None else None,
                  error=str(refusal), error_code=refusal.code, request_id=request_id(request))
    page.headers["X-Request-Id"] = request_id(request)
    page.headers["X-Road-Error"] = refusal.code
    return page


async def audit_refusal(request: Request, refusal: Refusal) -> None:
    if getattr(refusal, "audited", False):
        return
    hub = request.app.state.hub
    caller = getattr(request.state, "caller", None)
    detail = {"field": refusal.field} if refusal.field else {}
    if isinstance(refusal, RevokedCredential):  # a token whose signature holds names its application
        caller = refusal.caller
        detail["reason"] = refusal.message
    await hub.store.audit.append(AuditRecord(
        kind="request", at_ms=hub.clock.now_ms(), outcome=refusal.code, request_id=request_id(request),
        consumer=getattr(caller, "institution", None), application=getattr(caller, "application", None),
        action=f"{request.method} {request.scope.get('route').path if request.scope.get('route') else 'unrouted'}",
        detail=detail,
    ))


def _validation_refusal(exc: RequestValidationError) -> Refusal:
    return refusal_from_errors(exc.errors())


def refusal_from_errors(errors) -> Refusal:
    """The first of pydantic's validation errors as a refusal naming its field."""
    first = errors[0] if errors else {}
    location = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(location) or None
    kind = first.get("type", "")
    if kind == "json_invalid":
        return Refusal("malformed_request", "the body is not valid JSON.", None)
    if kind == "extra_forbidden":
        return Refusal("malformed_request", f"unknown field {field}.", field)
    if kind.startswith(("date_", "datetime_")):
        return Refusal("invalid_period", f"{field}: {first.get('msg', 'not a real date')} (expected YYYY-MM-DD).", field)
    if kind == "missing":
        return Refusal("malformed_request", f"{field or 'the body'} is required.", field)
    message = first.get("msg", "invalid value")
    return Refusal("malformed_request", f"{field or 'the body'}: {message}.", field)


async def refusal_response(request: Request, refusal: Refusal) -> Response:
    """A refusal, audited unless its use case did, rendered as JSON or as the citizen's page."""
    await audit_refusal(request, refusal)
    if _is_citizen_page(request.url.path):
        return citizen_error_page(request, refusal)
    return error_response(request, refusal)


def install(app: FastAPI) -> None:
    app.add_exception_handler(Refusal, refusal_response)  # type: ignore[arg-type]

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONBody:
        refusal = _validation_refusal(exc)
        await audit_refusal(request, refusal)
        return error_response(request, refusal)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONBody:
        if isinstance(exc.__cause__, Refusal):  # raised while FastAPI read the body (the body limit)
            await audit_refusal(request, exc.__cause__)
            return error_response(request, exc.__cause__)
        code = _HTTP_CODES.get(exc.status_code, "malformed_request" if exc.status_code < 500 else "internal_error")
        refusal = Refusal(code, str(exc.detail) if exc.detail and exc.detail != CATALOGUE[code].summary else CATALOGUE[code].summary)
        if code != "not_found":  # unknown paths are scanners' noise; everything else is audited
            await audit_refusal(request, refusal)
        return error_response(request, refusal)

    @app.exception_handler(Exception)
    async def on_fault(request: Request, exc: Exception) -> JSONBody:
        log.exception("internal error", extra={"request_id": request_id(request)})
        return error_response(request, Refusal("internal_error", "an internal error occurred; it is logged under this request id."))


def openapi_errors(*codes: str) -> dict:
    """`responses=` for a route: each status with the codes it may carry, for the OpenAPI document."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(CATALOGUE[code].status, []).append(code)
    return {
        status: {
            "model": None,
            "description": "; ".join(f"`{c}`: {CATALOGUE[c].summary}" for c in names),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for status, names in sorted(by_status.items())
    }
