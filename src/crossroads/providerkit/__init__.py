"""The provider kit: expose an electronic service behind the Crossroads hub.

An institution's service receives POSTs from the hub only. Each carries the header
`X-Crossroads-Signature`, a JWS (EdDSA, detached payload, RFC 7515 Appendix F) over the exact
body, signed with a key in the hub's JWKS, whose protected header names the URL it was sent to
(`aud`), the request id (`rid`) and when it was signed (`iat`). `ProviderApp` verifies all three
and hands the handler the request as a dict; the handler returns the answer as a dict.

    from crossroads.providerkit import ProviderApp, HubKeySet

    keys = HubKeySet.from_url("https://hub.example/.well-known/jwks.json")
    app = ProviderApp("https://nr.example", keys)

    @app.service("/services/person.identity/1")
    async def identity(request: dict) -> dict:
        return {"name": ..., "birth_date": ...}

    # app is an ASGI application: uvicorn module:app
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any, Awaitable, Callable

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..adapters.keys import verify_detached

Handler = Callable[[dict], Awaitable[dict]]
EventsHandler = Callable[[list], Awaitable[None]]
MAX_CLOCK_SKEW = 300


class HubKeySet:
    """The hub's public keys, as published at /.well-known/jwks.json."""

    def __init__(self, jwks: dict) -> None:
        self.key_set = KeySet.import_key_set(jwks)

    @classmethod
    def from_url(cls, url: str, timeout: float = 5.0) -> "HubKeySet":
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - operator-given URL
            return cls(json.load(response))


class SignatureError(Exception):
    pass


def verify_hub_request(keys: HubKeySet, signature: str | None, body: bytes, url: str, now: float | None = None) -> dict:
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


class ProviderApp:
    """An ASGI app serving one or more services behind the hub."""

    def __init__(self, base_url: str, keys: HubKeySet) -> None:
        self.base_url = base_url.rstrip("/")
        self.keys = keys
        self._routes: list[Route] = []
        self._app: Starlette | None = None

    def service(self, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._routes.append(Route(path, self._endpoint(path, handler), methods=["POST"]))
            self._app = None
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
                body = await self._signed_body(request, url)
                if isinstance(body, Response):
                    return body
                events = json.loads(body)
                if not isinstance(events, list):
                    return JSONResponse({"error": "expected a CloudEvents JSON batch"}, status_code=400)
                await handler(events)
                return Response(status_code=204)

            self._routes.append(Route(path, endpoint, methods=["POST"]))
            self._app = None
            return handler
        return register

    def _endpoint(self, path: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        url = self.base_url + path

        async def endpoint(request: Request) -> Response:
            body = await self._signed_body(request, url)
            if isinstance(body, Response):
                return body
            answer = await handler(json.loads(body))
            return JSONResponse(answer)

        return endpoint

    async def _signed_body(self, request: Request, url: str) -> bytes | Response:
        """The request's body if the hub signed it for `url`; else the 401 to answer."""
        body = await request.body()
        try:
            verify_hub_request(self.keys, request.headers.get("x-crossroads-signature"), body, url)
        except SignatureError as exc:
            return JSONResponse({"error": str(exc)}, status_code=401)
        return body

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if self._app is None:
            self._app = Starlette(routes=self._routes)
        await self._app(scope, receive, send)
