"""The API's server span (tracing on): one per HTTP request, continuing the caller's trace when it
sends a W3C `traceparent`, named after the route it matched (`POST /v1/exchange/{service}`).

The spans inside it are the adapters' (adapters/tracing.py): the call to a provider, with the
trace context passed on. The span names the route, the status, the request id and the calling
application, as the access log does, and nothing from the URL, the body or the headers.
FastAPI's own telemetry is off (app.py), since it records the path and query as sent.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context, propagate
from opentelemetry.trace import SpanKind, Status, StatusCode

from ...adapters.tracing import TRACER
from .access_log import client_of, route_of


def _headers(scope: dict) -> dict[str, str]:
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in scope["headers"]
        if name in (b"traceparent", b"tracestate")
    }


class ServerSpans:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = context.attach(propagate.extract(_headers(scope)))
        status = 500
        try:
            with TRACER.start_as_current_span(
                scope["method"],
                kind=SpanKind.SERVER,
                attributes={"http.request.method": scope["method"]},
                record_exception=False,
                set_status_on_exception=False,
            ) as span:

                async def observed(message: dict) -> None:
                    nonlocal status
                    if message["type"] == "http.response.start":
                        status = message["status"]
                    await send(message)

                try:
                    await self.app(scope, receive, observed)
                finally:
                    route = route_of(scope)
                    state = scope.get("state", {})
                    span.update_name(f"{scope['method']} {route}")
                    span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status)
                    for name, value in (
                        ("crossroads.request_id", state.get("request_id")),
                        ("crossroads.client_id", client_of(state.get("caller"))),
                    ):
                        if value is not None:
                            span.set_attribute(name, value)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
        finally:
            context.detach(token)
