"""The exchange's direct route: `POST /v1/exchange/{service}` answered before FastAPI's router.

Why: the exchange is the hub's hot path, and on a profile of `crossroads bench exchange` FastAPI's
route matching (over every route of the API), its dependency solver and the layers of `send`
wrappers between them took about a quarter of a request's CPU. The route stays declared in
FastAPI, for its OpenAPI entry; this middleware calls the same endpoint (`answer_exchange`) with
the same refusal rendering (`errors.refusal_response`). It sits inside the body limit, and an
unexpected fault propagates to the outer error middleware like any other route's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...domain.errors import Refusal
from .errors import refusal_response

Endpoint = Callable[[Request, str], Awaitable[Response]]


class DirectRoute:
    """Serve the declared `route`, whose path ends in one parameter (`/prefix/{name}`, one path
    segment), with `endpoint(request, value)`; pass everything else on."""

    def __init__(self, app: Any, *, route: Any, endpoint: Endpoint) -> None:
        prefix, brace, name = route.path.partition("{")
        if not brace or not name.endswith("}") or len(route.methods) != 1:
            raise ValueError(
                f"a direct route is one method and a path ending in one parameter, not {route.path}"
            )
        self.app = app
        self._method = next(iter(route.methods))
        self._prefix = prefix
        self._name = name[:-1]
        self._endpoint = endpoint
        self._route = route

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == self._method
            and scope["path"].startswith(self._prefix)
        ):
            param = scope["path"][len(self._prefix) :]
            if param and "/" not in param:
                scope["route"] = self._route
                scope["path_params"] = {self._name: param}
                await self._answer(Request(scope, receive), param, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _answer(
        self, request: Request, param: str, scope: dict, receive: Any, send: Any
    ) -> None:
        try:
            response = await self._endpoint(request, param)
        except Refusal as refusal:
            response = await refusal_response(request, refusal)
        await response(scope, receive, send)
