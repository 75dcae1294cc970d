"""The access log: one line per HTTP request, at info on the logger `crossroads.access` (on unless
`CROSSROADS_ACCESS_LOG=false`).

What a line holds: the method, the route (`/v1/exchange/{service}`, the template the request
matched, so that no value from the URL is written), the status, the duration, the request id
(the one errors, audit records and the exchange's `X-Request-Id` carry) and the calling
application's client id once it authenticated (`operator` for the operator). Never the query,
a header, a token, or a citizen: a path that matched no route is written with every run of four
digits or more replaced, since it could hold an identifier; a citizen's session is not named.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from ...services.request_scope import serving_request

log = logging.getLogger("crossroads.access")
_DIGITS = re.compile(r"\d{4,}")  # identifiers are long numbers; `/v1` is not one
_LONGEST_PATH = 200


class AccessLog:
    """Gives every request its id (answered as X-Request-Id) and, when `write`, logs its line."""

    def __init__(self, app: Any, write: bool = True) -> None:
        self.app = app
        self.write = write

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # The request's id from its start: the routes that report one (errors, exchanges) and the
        # audit records take this one (errors.request_id), so the line names the same request.
        # Every answer carries it as X-Request-Id, so that a caller's complaint finds its line.
        state = scope.setdefault("state", {})
        request_id = state.setdefault("request_id", str(uuid.uuid4()))
        serving = serving_request.set(request_id)  # for the audit records written meanwhile
        status = 500  # unless the app answers: what the error middleware outside will send

        async def observed(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                names = {name.lower() for name, _ in headers}
                added = [] if b"x-request-id" in names else [(b"x-request-id", request_id.encode())]
                refused = state.get("refused")  # a refusal a page rendered in its form
                if refused and b"x-road-error" not in names:
                    added.append((b"x-road-error", refused.encode()))
                if added:
                    message["headers"] = [*headers, *added]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            serving_request.reset(serving)
            if self.write and log.isEnabledFor(logging.INFO):
                self._line(scope, state, status, started)

    @staticmethod
    def _line(scope: dict, state: dict, status: int, started: float) -> None:
        route = route_of(scope)
        log.info(
            "%s %s %s",
            scope["method"],
            route,
            status,
            extra={
                "method": scope["method"],
                "route": route,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "request_id": state.get("request_id"),
                "client_id": client_of(state.get("caller")),
            },
        )


def route_of(scope: dict) -> str:
    """The route's template; else the path with its long numbers masked, and cut short."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if template:
        return scope.get("root_path", "") + template
    return _DIGITS.sub("…", scope["path"])[:_LONGEST_PATH]


def client_of(caller: Any) -> str | None:
    if caller is None:
        return None
    if getattr(caller, "operator", False):
        return "operator"
    return getattr(caller, "client_id", None)
