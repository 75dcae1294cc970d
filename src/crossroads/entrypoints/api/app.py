"""The ASGI application: routers, error rendering, body limit, and the hub's lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from ... import __version__
from ...bootstrap import Hub, bootstrap
from ...config import Settings
from ...domain.errors import CATALOGUE, Refusal
from ...services.clock import Clock
from ..serving_collector import serving_collector
from . import (
    admin,
    admin_employers,
    admin_operators,
    admin_proposals,
    admin_rights,
    admin_sessions,
    audit,
    auth,
    citizen,
    citizen_data,
    citizen_rights,
    data_reports,
    declarations,
    directory,
    discovery,
    docs_page,
    errors,
    exchange,
    federation,
    govstack_pubsub,
    identifier_links,
    institution_pages,
    mutations,
    operator_actions,
    operator_catalogue_actions,
    operator_pages,
    operator_register_actions,
    operator_session,
    ops,
    portal,
    portal_batches,
    portal_dimona,
    portal_employer,
    portal_model,
    portal_rights,
    portal_signin,
    proposal_pages,
    rights,
    statistics,
    statistics_public,
    xroad,
)
from .access_log import AccessLog
from .declarations_source import MOUNT, LazySource, source_app
from .direct import DirectRoute
from .form_upload import FORM_OVERHEAD_BYTES
from .process_metrics import keep_sampling
from .request_target import RequestTarget
from .responses import JSONBody
from .schemas import ExchangeIn
from .server_spans import ServerSpans
from .sessions import (
    OPERATOR_COOKIE,
    OPERATOR_PATHS,
    PORTAL_COOKIE,
    PORTAL_PATHS,
    BrowserSessions,
)
from .single_headers import SingleHeaders

DESCRIPTION = """\
Crossroads is a crossroads bank for government data exchange. Applications of member
institutions obtain an access token (`/oauth/token`, RFC 7523 private_key_jwt) and ask services
about persons through `/v1/exchange/{service}`; every answer and refusal is audited.
Every error is `{code, message, field?, request_id}`; the codes are listed under `x-error-codes`."""


class BodyLimit:
    """Refuse bodies over the limit, whether announced by Content-Length or streamed in chunks,
    and bodies that do not arrive within `seconds` of the first read (a body sent a byte at a
    time would hold its request, and its connection, forever)."""

    def __init__(
        self, app: Any, limit: int, seconds: float, larger: dict[str, int] | None = None
    ) -> None:
        """`larger`: path -> limit, for the requests allowed more (batch files, by kind)."""
        self.app = app
        self.default_limit = limit
        self.seconds = seconds
        self.larger = larger or {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.default_limit)
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                received_too_much = True
                break
        else:
            received_too_much = False
        seen = 0
        deadline: float | None = None

        async def limited_receive() -> dict:
            nonlocal seen, deadline
            if received_too_much:
                raise Refusal("payload_too_large", f"the body is larger than {limit} bytes.")
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + self.seconds
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise Refusal(
                    "request_timeout", f"the body did not arrive within {self.seconds:g} s."
                ) from None
            seen += len(message.get("body", b""))
            if seen > limit:
                raise Refusal("payload_too_large", f"the body is larger than {limit} bytes.")
            return message

        await self.app(scope, limited_receive, send)


Build = Callable[[Settings, Clock | None], Awaitable[Hub]]


def serve_own_sources(hub: Hub) -> None:
    """The declarations source this app serves at MOUNT, for the citizen's data page to ask in
    the process (adapters/in_process_sources.py) where the registry names it: at this address."""
    hub.own_sources.mount(hub.settings.issuer + MOUNT, source_app(hub))


def create_app(
    settings: Settings,
    clock: Clock | None = None,
    hub: Hub | None = None,
    *,
    build: Build = bootstrap,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The hub's ASGI app. `build` makes the hub at start-up when none is given, and `routers`
    are served besides the hub's own: the demo's wiring passes its own (demo/wiring.py), so that
    production never imports the demo."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.hub = hub or await build(settings, clock)
        serve_own_sources(app.state.hub)
        stop = asyncio.Event()
        running = app.state.hub
        sequencing = asyncio.create_task(
            running.sequencer.run(
                stop,
                running.store.sequencer_lease(),
                takeover_seconds=running.settings.sequencer_takeover_seconds,
            )
        )
        publishing = asyncio.create_task(
            running.publisher.run(
                stop, lambda: running.sequencer.leading, running.settings.tree_head_every_seconds
            )
        )
        partitioning = asyncio.create_task(
            running.push_partitions.run(stop, running.settings.sequencer_takeover_seconds)
        )
        pushing = asyncio.create_task(
            running.push.run(
                stop,
                lambda: running.sequencer.leading,
                running.settings.push_interval_seconds,
                running.push_partitions,
            )
        )
        sampling = asyncio.create_task(keep_sampling(running.status, stop))
        declaring = [
            asyncio.create_task(
                task.run(
                    stop,
                    lambda: running.sequencer.leading,
                    running.settings.declaration_interval_seconds,
                )
            )
            for task in (running.declaration_batches, running.declaration_publisher)
        ]
        extracting = asyncio.create_task(
            running.statistics_schedule.run(
                stop,
                lambda: running.sequencer.leading,
                running.settings.statistics_extract_seconds,
            )
        )
        if running.rights_triggers is not None:
            declaring.append(
                asyncio.create_task(
                    running.rights_triggers.run(
                        stop,
                        lambda: running.sequencer.leading,
                        running.settings.rights_poll_seconds,
                    )
                )
            )
        # The tasks above live as long as the process: frozen with the rest of start-up.
        with serving_collector():
            try:
                yield
            finally:
                stop.set()
                await sequencing
                await publishing
                await pushing
                await partitioning
                await sampling
                for task in declaring:
                    await task
                await extracting
                if hub is None:
                    await app.state.hub.close()

    app = FastAPI(
        title="Crossroads hub",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=JSONBody,
        docs_url=None,
        redoc_url=None,
        # FastAPI's own OpenTelemetry records each request's path and query as sent, which can
        # carry a person's identifier: the hub opens its own server span (server_spans.py).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    docs_page.install(app)  # Swagger UI with its assets served by the hub, not a CDN
    errors.install(app)
    for module in (
        ops,
        auth,
        exchange,
        directory,
        federation,
        identifier_links,
        mutations,
        govstack_pubsub,
        declarations,
        discovery,
        admin_employers,
        admin_operators,  # before admin: its catch-all DELETE /admin/{collection}/{key}
        admin_proposals,
        admin_rights,  # before admin too
        admin_sessions,
        admin,
        operator_session,
        portal_signin,
        operator_pages,
        operator_actions,
        operator_catalogue_actions,
        operator_register_actions,
        proposal_pages,
        institution_pages,
        audit,
        citizen,
        citizen_data,
        citizen_rights,
        data_reports,
        statistics,
        statistics_public,
        rights,
        portal,
        portal_model,
        portal_employer,
        portal_dimona,
        portal_batches,
        portal_rights,
        xroad,
    ):
        app.include_router(module.router)
    app.mount(MOUNT, LazySource())
    for extra in routers:
        app.include_router(extra)
    app.add_middleware(
        DirectRoute, route=exchange.EXCHANGE_ROUTE, endpoint=exchange.answer_exchange
    )
    app.add_middleware(
        DirectRoute,
        route=federation.PEER_EXCHANGE_ROUTE,
        endpoint=federation.answer_peer_exchange,
    )
    app.add_middleware(xroad.XRoadMessages)
    app.add_middleware(
        RequestTarget
    )  # outside the direct route, so that the exchange's path is checked too
    app.add_middleware(SingleHeaders)  # outside the X-Road layer, which reads X-Road-Client
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        seconds=settings.body_timeout_seconds,
        larger={
            f"{declarations.BATCH_PREFIX}dimona": settings.dimona_batch_max_bytes,
            f"{declarations.BATCH_PREFIX}dmfa": settings.dmfa_batch_max_bytes,
            f"{portal_batches.PREFIX}dimona": settings.dimona_batch_max_bytes + FORM_OVERHEAD_BYTES,
            f"{portal_batches.PREFIX}dmfa": settings.dmfa_batch_max_bytes + FORM_OVERHEAD_BYTES,
        },
    )
    app.add_middleware(
        BrowserSessions,
        max_age=settings.citizen_session_seconds,
        https_only=settings.issuer.startswith("https://"),
    )
    app.add_middleware(
        BrowserSessions,
        max_age=settings.operator_session_seconds,
        https_only=settings.issuer.startswith("https://"),
        paths=OPERATOR_PATHS,
        cookie=OPERATOR_COOKIE,
        audience="operator",
    )
    app.add_middleware(
        BrowserSessions,
        max_age=settings.portal_session_seconds,
        https_only=settings.issuer.startswith("https://"),
        paths=PORTAL_PATHS,
        cookie=PORTAL_COOKIE,
        audience="portal",
    )
    # Outermost, so that they time and see what every layer answers (and the request id is set
    # before any layer asks for it).
    app.add_middleware(AccessLog, write=settings.access_log)
    if settings.tracing:
        app.add_middleware(ServerSpans)
    if hub is not None:  # a hub built by the caller (tests, the demo) serves without a lifespan
        app.state.hub = hub
        serve_own_sources(hub)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for path in schema["paths"].values():
        for operation in path.values():
            for answer in operation.get("responses", {}).values():
                for content in answer.get("content", {}).values():
                    if "schema" in content:
                        content["schema"] = _named(content["schema"])
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for model in (ExchangeIn,):  # bodies parsed by their route itself (exchange.parse_body)
        definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(definition.pop("$defs", {}))
        schemas[model.__name__] = definition
    schemas["Error"] = {
        "type": "object",
        "required": ["code", "message", "request_id"],
        "properties": {
            "code": {"type": "string", "enum": sorted(CATALOGUE)},
            "message": {"type": "string"},
            "field": {"type": "string"},
            "request_id": {"type": "string"},
        },
    }
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    schema["security"] = [{"bearer": []}]
    schema["x-error-codes"] = {
        c.code: {"status": c.status, "summary": c.summary} for c in CATALOGUE.values()
    }
    app.openapi_schema = schema
    return schema


def _named(schema: Any) -> Any:
    """A response schema with the model its route names (`openapi_models.answers`) and nothing
    else: FastAPI merges that model into what it inferred from the function's annotation
    (`dict`), and the merge would say both."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return {"$ref": schema["$ref"]}
        return {k: _named(v) for k, v in schema.items() if k != "title" or not isinstance(v, str)}
    if isinstance(schema, list):
        return [_named(v) for v in schema]
    return schema
