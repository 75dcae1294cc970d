"""The provider kit: expose an electronic service behind the Crossroads hub.

An institution's service receives POSTs from the hub only. Each carries the header
`X-Crossroads-Signature`, a JWS (EdDSA, detached payload, RFC 7515 Appendix F) over the exact
body, signed with a key in the hub's JWKS, whose protected header names the URL it was sent to
(`aud`), the request id (`rid`) and when it was signed (`iat`). `ProviderApp` verifies all three
and hands the handler the request as a dict; the handler returns the answer as a dict.

    from crossroads.providerkit import ProviderApp, HubKeySet

    keys = HubKeySet.from_url("https://hub.example/.well-known/jwks.json")  # refreshed: hub_keys.py
    app = ProviderApp("https://nr.example", keys)

    @app.service("/services/person.identity/1")
    async def identity(request: dict) -> dict:
        return {"name": ..., "birth_date": ...}

    # app is an ASGI application: uvicorn module:app
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from joserfc.errors import JoseError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..domain import unique_keys
from ..domain.errors import Refusal, framework_refusal
from .hub_keys import HubKeySet
from .signatures import verify_detached

__all__ = ["HubKeySet", "ProviderApp", "SignatureError", "verify_hub_request"]

Handler = Callable[[dict], Awaitable[dict]]
EventsHandler = Callable[[list], Awaitable[None]]
MAX_CLOCK_SKEW = 300
log = logging.getLogger("crossroads.providerkit")


class SignatureError(Exception):
    pass


def verify_hub_request(
    keys: HubKeySet, signature: str | None, body: bytes, url: str, now: float | None = None
) -> dict:
    """Check that `body` was signed by the hub for `url` recently; return the protected header."""
    if not signature:
        raise SignatureError("missing X-Crossroads-Signature")
    try:
        header = verify_detached(signature, body, keys.key_set)
    except (JoseError, ValueError) as exc:
        raise SignatureError(f"bad signature ({exc.__class__.__name__})") from None
    if header.get("aud") != url:
        raise SignatureError("signed for another address")
    issued = header.get("iat")
    now = time.time() if now is None else now
    if not isinstance(issued, int) or abs(now - issued) > MAX_CLOCK_SKEW:
        raise SignatureError("signature too old or from the future")
    return header


RefusalHook = Callable[[Request, Refusal], Awaitable[Refusal]]


class ProviderApp:
    """An ASGI app serving one or more services behind the hub.

    Every error it answers is in the hub's own format (docs/errors.md): JSON `{code, message,
    request_id}` with the headers `X-Road-Error` and `X-Request-Id`, whether the request was not
    signed by the hub (401 `unauthenticated`), was for no path or method served here (404
    `not_found`, 405 `method_not_allowed`), was not JSON (400 `malformed_request`), or a handler
    failed (500 `internal_error`, logged with its traceback). `on_refusal`, when given, is awaited
    with each such error before it is answered and returns the refusal to answer: the hub audits
    the refusals of its own mounted source with it (and answers `internal_error` when it cannot).
    """

    def __init__(
        self, base_url: str, keys: HubKeySet, on_refusal: RefusalHook | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.keys = keys
        self._on_refusal = on_refusal
        self._routes: list[Route] = []
        # path -> endpoint of each POST route: what the hub sends is answered without Starlette's
        # router and middleware (__call__); anything else still goes through them.
        self._posts: dict[str, Route] = {}
        self._app: Starlette | None = None

    def service(self, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._add(path, self._endpoint(path, handler))
            return handler

        return register

    def mutations(self, path: str) -> Callable[[EventsHandler], EventsHandler]:
        """Receive the hub's pushed mutations at `path` (the subscription's webhook_url).

        The handler gets the batch of CloudEvents, oldest first, once the hub's signature over
        the body and its audience (this URL) check out; returning normally answers 204, which
        tells the hub they are delivered. Raising makes the hub try again later: a handler that
        stores the events before returning loses none (it may see one twice: same `id`).
        """

        def register(handler: EventsHandler) -> EventsHandler:
            url = self.base_url + path

            async def endpoint(request: Request) -> Response:
                events = await self._signed_json(request, url)
                if not isinstance(events, list):
                    raise Refusal(
                        "malformed_request", "expected a CloudEvents JSON batch (an array)."
                    )
                await handler(events)
                return Response(status_code=204)

            self._add(path, self._guarded(endpoint))
            return handler

        return register

    def _add(self, path: str, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        route = Route(path, endpoint, methods=["POST"])
        self._routes.append(route)
        self._posts[path] = route
        self._app = None

    def _endpoint(self, path: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        url = self.base_url + path

        async def endpoint(request: Request) -> Response:
            return JSONResponse(await handler(await self._signed_json(request, url)))

        return self._guarded(endpoint)

    async def _signed_json(self, request: Request, url: str) -> Any:
        """The request's JSON body if the hub signed it for `url`; else `unauthenticated`."""
        body = await request.body()
        signature = request.headers.get("x-crossroads-signature")
        await self.keys.update_for(signature)  # a key the hub began to sign with: fetch it
        try:
            header = verify_hub_request(self.keys, signature, body, url)
        except SignatureError as exc:
            raise Refusal("unauthenticated", f"only the hub calls this service: {exc}.") from None
        if (
            isinstance(header.get("rid"), str)
            and header["rid"].isprintable()
            and len(header["rid"]) <= 100
        ):
            request.state.request_id = header["rid"]  # errors then name the hub's request id
        try:
            return unique_keys.loads(body)
        except unique_keys.DuplicateKey as exc:
            raise Refusal("malformed_request", f"{exc}.", exc.path) from None
        except ValueError:
            raise Refusal("malformed_request", "the body is not JSON.") from None

    def _guarded(
        self, endpoint: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        # A handler's fault is answered here rather than by Starlette's outermost middleware,
        # which re-raises after answering: inside a host app (the hub mounts its own source) the
        # host would see the fault a second time, after the answer had gone.
        async def guarded(request: Request) -> Response:
            try:
                return await endpoint(request)
            except Refusal:
                raise
            except Exception:
                log.exception(
                    "a provider handler failed", extra={"request_id": _request_id(request)}
                )
                return await self._refused(
                    request,
                    Refusal(
                        "internal_error", "the service failed; it is logged under this request id."
                    ),
                )

        return guarded

    async def _refused(self, request: Request, refusal: Refusal) -> Response:
        if self._on_refusal is not None:
            refusal = await self._on_refusal(request, refusal)
        rid = _request_id(request)
        return JSONResponse(
            {**refusal.to_dict(), "request_id": rid},
            status_code=refusal.status,
            headers={"X-Road-Error": refusal.code, "X-Request-Id": rid},
        )

    async def _on_http(self, request: Request, exc: HTTPException) -> Response:
        return await self._refused(request, framework_refusal(exc.status_code))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """A POST to a served path is answered by its endpoint directly: Starlette's router and
        its two exception middlewares cost about a tenth of a source's CPU a request (the hub's
        own DIMONA source included; docs/benchmarks.md, "The data page's CPU"), for a route
        known in advance. The endpoint's own faults are answered by `_guarded`, its refusals
        here as the `Refusal` handler would; every other request (another method or path, a
        root path, a lifespan) goes through Starlette as before."""
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            route = self._posts.get(scope["path"])
            if route is not None:
                # What Starlette's router would have put in the scope: a refusal's audit
                # record names the route (entrypoints/api/errors.py, the hub's own source).
                scope = {**scope, "route": route, "endpoint": route.endpoint, "path_params": {}}
                request = Request(scope, receive)
                try:
                    response = await route.endpoint(request)
                except Refusal as refusal:
                    response = await self._refused(request, refusal)
                except HTTPException as exc:
                    response = await self._on_http(request, exc)
                await response(scope, receive, send)
                return
        if self._app is None:
            self._app = Starlette(
                routes=self._routes,
                exception_handlers={HTTPException: self._on_http, Refusal: self._refused},
            )
        await self._app(scope, receive, send)


def _request_id(request: Request) -> str:
    """The hub's request id once its signature named it, or the host's, or a new one."""
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.state.request_id = str(uuid.uuid4())
    return rid
