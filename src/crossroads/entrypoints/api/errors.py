"""Rendering refusals: every error is JSON `{code, message, field?, request_id}` with its status,
except on the citizen's pages, where it is the page with the message.

Each refused request is audited exactly once. A use case that wrote its refusal's record marks
the refusal audited (`Refusal.mark_audited`); every other refusal (a bad token, a malformed body, a
wrong method) is handed to the refusal log (services/refusals.py) here. Two are not recorded: an
unknown path (scanners' noise) and `not_ready` from /ready or an identity provider. A request
refused `not_ready` because the store was out (StoreUnavailable) is recorded once it is back.
"""

from __future__ import annotations

import contextlib
import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ...bootstrap import Hub
from ...domain.callers import Caller
from ...domain.errors import CATALOGUE, Refusal, framework_refusal
from ...services.auth import RevokedCredential
from ...services.ports import StoreUnavailable
from ...services.refusals import RefusedRequest
from ...templates.i18n import N_
from ...templates.refusals import REFUSED
from .dependencies import hub_of
from .metrics import AUDIT_WRITE_FAILURES
from .pages import page as portal_page
from .pages import signed_in_citizen
from .responses import JSONBody

log = logging.getLogger("crossroads.api")
# Transient refusals and the seconds their Retry-After says: an outage of the store or an
# identity provider, the anonymous simulations all busy; a member's exchanges all in flight, which
# end within a provider's timeout, most within milliseconds.
RETRY_AFTER_SECONDS = {"not_ready": 2, "simulations_busy": 2, "member_busy": 1}


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
    if refusal.code in RETRY_AFTER_SECONDS:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS[refusal.code])
    if refusal.status == 401:
        headers["WWW-Authenticate"] = (
            'Bearer error="invalid_token"' if refusal.code == "unauthenticated" else "Bearer"
        )
    return JSONBody(body, status_code=refusal.status, headers=headers)


def _is_citizen_page(path: str) -> bool:
    # The citizen's pages are read in a browser: a refusal there (a sign-in that failed) is a page
    # saying what happened, with a way to try again; /v1/citizen/… stays JSON.
    return path == "/citizen" or path.startswith("/citizen/")


# A refusal on a page: a title and the code's sentence (templates/refusals.py) in the reader's
# language, the refusal's own (English) message beside them.
ERROR_TITLES = {
    "unauthenticated": N_("Signing in did not succeed."),
    "not_signed_in": N_("You are not signed in."),
    "sign_in_expired": N_("This sign-in has expired."),
    "forbidden": N_("This is not allowed."),
    "not_found": N_("There is nothing at this address."),
    "role_required": N_("Your roles do not open this page."),
}
# Where the browser comes back from each identity provider, and where it signs in again.
SIGN_IN_AGAIN = {"/portal/callback": "/portal/login", "/operator/callback": "/operator/login"}
# Under /operator/ everything is a page or a page's form but the JSON API of the operator's
# session (operator_session.py): a mistyped address there is a page in the reader's language too.
OPERATOR_JSON_PATHS = frozenset({"/operator/session", "/operator/logout"})


def _is_portal_page(path: str) -> bool:
    return (
        path == "/portal"
        or path.startswith("/portal/")
        or path == "/statistics/"  # the published statistics' page (its files stay JSON)
        or (path.startswith("/operator/") and path not in OPERATOR_JSON_PATHS)
    )


def _sign_in_url(path: str, code: str) -> str | None:
    """Where the refused reader signs in (again): the identity provider for a replayed answer,
    the portal's sign-in page (or the operator's) for a page that needs a session."""
    if code == "sign_in_expired":
        return SIGN_IN_AGAIN.get(path)
    if code == "unauthenticated" and path not in SIGN_IN_AGAIN:
        return "/operator/login" if path.startswith("/operator/") else "/portal/signin"
    return None


def portal_error_page(request: Request, refusal: Refusal) -> Response:
    path = request.url.path
    # A page asked without a session is no failed sign-in: it says so, and where to sign in.
    first = refusal.code == "unauthenticated" and path not in SIGN_IN_AGAIN
    title = "not_signed_in" if first else refusal.code
    page = portal_page(
        request,
        "portal/error.html",
        status=refusal.status,
        error=str(refusal),
        error_title=ERROR_TITLES.get(title, REFUSED),
        error_code=refusal.code,
        request_id=request_id(request),
        sign_in_url=_sign_in_url(path, refusal.code),
        sign_in_first=first,
    )
    page.headers["X-Request-Id"] = request_id(request)
    page.headers["X-Road-Error"] = refusal.code
    return page


def citizen_error_page(request: Request, refusal: Refusal) -> Response:
    hub = hub_of(request)
    # As on the portal's pages: a page asked without a session is no failed sign-in.
    failed = refusal.code != "unauthenticated" or request.url.path == "/citizen/callback"
    title = refusal.code if failed else "not_signed_in"
    page = portal_page(
        request,
        "citizen.html",
        status=refusal.status,
        signed_in=signed_in_citizen(request),
        dev_idp=hub.dev_idp is not None,
        login_url="/citizen/login" if hub.citizen_signin is not None else None,
        error=str(refusal),
        error_title=ERROR_TITLES.get(title, REFUSED),
        error_code=refusal.code,
        request_id=request_id(request),
    )
    page.headers["X-Request-Id"] = request_id(request)
    page.headers["X-Road-Error"] = refusal.code
    return page


# Refusals the door does not record: /ready's answer (the store may not be there to hold it), an
# anonymous simulation refused because others run, and an exchange refused because its member has
# too many in flight (a flood would otherwise be a flood of writes; no subject was read, and the
# metric crossroads_member_busy_total and a warning log show it).
_NOT_RECORDED = frozenset({"not_ready", "simulations_busy", "member_busy"})


async def audit_refusal(request: Request, refusal: Refusal, hub: Hub | None = None) -> None:
    """Record the refusal in the audit log unless its use case did (or it is not recorded at
    all). `hub`: the running hub, for apps mounted inside it (whose `request.app` is their own)."""
    # The answer names the refusal (X-Road-Error, entrypoints/api/access_log.py) even where a page
    # renders it inside a form rather than as an error.
    request.state.refused = refusal.code
    if refusal.audited:
        return
    hub = hub or hub_of(request)
    if isinstance(refusal, StoreUnavailable):  # recorded once the store is back
        # Who asked, only as far as known: reading a token's mark would wait on the store again.
        hub.refusals.defer(await refused_request(request, refusal, hub, look_up_caller=False))
        return
    if refusal.code in _NOT_RECORDED:
        return
    await hub.refusals.record(await refused_request(request, refusal, hub))


async def refused_request(
    request: Request, refusal: Refusal, hub: Hub, *, look_up_caller: bool = True, **detail: object
) -> RefusedRequest:
    """A refusal given at the door, for the refusal log: who asked (when known; with
    `look_up_caller`, also from a bearer token not yet checked), the route, the code, the
    offending field, and `detail` (e.g. the item of a batch refused alone)."""
    caller = (
        await _caller(request, hub) if look_up_caller else getattr(request.state, "caller", None)
    )
    if isinstance(
        refusal, RevokedCredential
    ):  # a token whose signature holds names its application
        caller = refusal.caller
        detail = {"reason": refusal.message, **detail}
    route = request.scope.get(
        "route"
    )  # inside a mounted app, its route, under the mount's root_path
    where = request.scope.get("root_path", "") + route.path if route is not None else "unrouted"
    return RefusedRequest(
        request_id=request_id(request),
        action=f"{request.method} {where}",
        code=refusal.code,
        field=refusal.field,
        caller=caller,
        detail=detail,
    )


async def _caller(request: Request, hub: Hub) -> Caller | None:
    """Who asked: the authenticated caller, or the one a valid bearer token names when the refusal
    came before authentication (FastAPI reads a body before it runs a route's dependencies)."""
    caller = getattr(request.state, "caller", None)
    if caller is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            # An invalid token names no one; the record says who is unknown.
            with contextlib.suppress(Refusal):
                caller = await hub.tokens.authenticate(token.strip())
    return caller


def unaudited(request: Request, refusal: Refusal) -> Refusal:
    """Log, loudly, that the audit record of `refusal` could not be written (call from an except
    block); the caller is answered `internal_error` instead, since every answer the hub gives is in
    its log or is a 500 that says so."""
    AUDIT_WRITE_FAILURES.inc()
    log.critical(
        "the audit record of an answer could not be written",
        exc_info=True,
        extra={"request_id": request_id(request), "outcome": refusal.code},
    )
    return Refusal(
        "internal_error", "the answer could not be audited; it is logged under this request id."
    )


def _validation_refusal(exc: RequestValidationError) -> Refusal:
    return refusal_from_errors(exc.errors())


def refusal_from_errors(errors) -> Refusal:
    """The first of pydantic's validation errors as a refusal naming its field."""
    first = errors[0] if errors else {}
    location = [
        str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")
    ]
    field = ".".join(location) or None
    kind = first.get("type", "")
    if kind == "json_invalid":
        return Refusal("malformed_request", "the body is not valid JSON.", None)
    if kind == "extra_forbidden":
        return Refusal("malformed_request", f"unknown field {field}.", field)
    if kind.startswith(("date_", "datetime_")):
        return Refusal(
            "invalid_period",
            f"{field}: {first.get('msg', 'not a real date')} (expected YYYY-MM-DD).",
            field,
        )
    if kind == "missing":
        return Refusal("malformed_request", f"{field or 'the body'} is required.", field)
    message = first.get("msg", "invalid value")
    return Refusal("malformed_request", f"{field or 'the body'}: {message}.", field)


async def refusal_response(
    request: Request, refusal: Refusal, *, audit: bool = True, hub: Hub | None = None
) -> Response:
    """A refusal, audited unless its use case did (or `audit` is False), rendered as JSON or as
    the citizen's page. Should the audit record fail, the answer is `internal_error`
    (`unaudited`)."""
    if audit:
        try:
            await audit_refusal(request, refusal, hub)
        except Exception:
            refusal = unaudited(request, refusal)
    if _is_citizen_page(request.url.path):
        return citizen_error_page(request, refusal)
    if _is_portal_page(request.url.path):
        return portal_error_page(request, refusal)
    return error_response(request, refusal)


async def fault_response(request: Request, exc: BaseException, hub: Hub | None = None) -> Response:
    """An unexpected fault: logged with its traceback and audited as `internal_error` under the
    request id the caller is given, so that the id leads to both. Should that audit record fail
    too, the failure is logged as well (`unaudited`); the caller gets the same answer."""
    log.error("internal error", exc_info=exc, extra={"request_id": request_id(request)})
    refusal = Refusal(
        "internal_error", "an internal error occurred; it is logged under this request id."
    )
    try:
        await audit_refusal(request, refusal, hub)
    except Exception:
        unaudited(request, refusal)
    return error_response(request, refusal)


def install(app: FastAPI) -> None:
    app.add_exception_handler(Refusal, refusal_response)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, fault_response)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        return await refusal_response(request, _validation_refusal(exc))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(
            exc.__cause__, Refusal
        ):  # raised while FastAPI read the body (the body limit, read_json)
            return await refusal_response(request, exc.__cause__)
        refusal = framework_refusal(exc.status_code, exc.detail)
        # Unknown paths are scanners' noise; everything else is audited.
        return await refusal_response(request, refusal, audit=refusal.code != "not_found")


def openapi_errors(*codes: str) -> dict:
    """`responses=` for a route: each status with the codes it may carry, for the OpenAPI
    document."""
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
