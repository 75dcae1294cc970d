"""Direct routes: the exchange (`POST /v1/exchange/{service}`) and the hub-to-hub exchange of a
peer (`POST /v1/federation/{peer}/exchange/{service}/{version}`) answered before FastAPI's router.

Why: the exchange is the hub's hot path, and on a profile of `crossroads bench exchange` FastAPI's
route matching (over every route of the API), its dependency solver and the layers of `send`
wrappers between them took about a quarter of a request's CPU; on a profile of
`crossroads bench federation` they took 15 % of the answering hub's CPU. Each route stays
declared in FastAPI, for its OpenAPI entry; this middleware calls the same endpoint
(`answer_exchange`, `answer_peer_exchange`) with the same refusal rendering
(`errors.refusal_response`). It sits inside the body limit, and an unexpected fault propagates to
the outer error middleware like any other route's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...domain.errors import Refusal
from .errors import refusal_response

Endpoint = Callable[..., Awaitable[Response]]


class DirectRoute:
    """Serve the declared `route` with `endpoint(request, *values)`, `values` its path parameters
    in order; pass everything else on. The route's path is literal segments and parameters that
    are each a whole segment (`/v1/exchange/{service}`,
    `/v1/federation/{peer}/exchange/{service}/{version}`); a parameter matches one non-empty
    segment, never a slash."""

    def __init__(self, app: Any, *, route: Any, endpoint: Endpoint) -> None:
        segments = route.path.split("/")
        parts = [
            (s[1:-1], True) if s[:1] == "{" and s[-1:] == "}" else (s, False) for s in segments
        ]
        if (
            not any(is_param for _, is_param in parts)
            or any("{" in name or "}" in name for name, _ in parts)
            or len(route.methods) != 1
        ):
            raise ValueError(
                "a direct route is one method and a path of literal segments and whole-segment "
                f"parameters, not {route.path}"
            )
        self.app = app
        self._method = next(iter(route.methods))
        self._prefix = route.path.partition("{")[0]
        self._parts = tuple(parts)
        self._names = tuple(name for name, is_param in parts if is_param)
        self._endpoint = endpoint
        self._route = route

    def _values(self, path: str) -> list[str] | None:
        segments = path.split("/")
        if len(segments) != len(self._parts):
            return None
        values = []
        for segment, (name, is_param) in zip(segments, self._parts, strict=True):
            if is_param:
                if not segment:
                    return None
                values.append(segment)
            elif segment != name:
                return None
        return values

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == self._method
            and scope["path"].startswith(self._prefix)
        ):
            values = self._values(scope["path"])
            if values is not None:
                scope["route"] = self._route
                scope["path_params"] = dict(zip(self._names, values, strict=True))
                await self._answer(Request(scope, receive), values, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _answer(
        self, request: Request, values: list[str], scope: dict, receive: Any, send: Any
    ) -> None:
        try:
            response = await self._endpoint(request, *values)
        except Refusal as refusal:
            response = await refusal_response(request, refusal)
        await response(scope, receive, send)
