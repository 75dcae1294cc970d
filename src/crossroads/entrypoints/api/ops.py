"""Health, readiness and metrics: reachable without a token."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from ...domain.errors import Refusal
from .errors import openapi_errors
from .json_input import JSONRoute
from .metrics import (
    DECLARATION_BATCHES_WAITING, DECLARATION_EVENTS_PENDING, SEQUENCER_LEADER, exposition,
)

router = APIRouter(route_class=JSONRoute, tags=["operations"])


@router.get("/health", summary="The process is up")
async def health() -> dict:
    return {"status": "ok"}


@router.get("/ready", summary="The hub can reach its store", responses=openapi_errors("not_ready"))
async def ready(request: Request) -> dict:
    try:
        await request.app.state.hub.store.ping()
    except Exception:
        refusal = Refusal("not_ready", "the store cannot be reached.")
        refusal.audited = True  # type: ignore[attr-defined]  # the log lives in that store
        raise refusal from None
    return {"status": "ready"}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    hub = request.app.state.hub
    SEQUENCER_LEADER.set(1 if hub.sequencer.leading else 0)
    waiting, pending = await hub.store.declarations.backlog()
    DECLARATION_BATCHES_WAITING.set(waiting)
    DECLARATION_EVENTS_PENDING.set(pending)
    return Response(exposition({
        "crossroads_tree_head_publish_failures": hub.publisher.failures,
        "crossroads_push_round_failures": hub.push.failures,
        "crossroads_declaration_publish_failures": hub.declaration_publisher.failures,
    }), media_type=CONTENT_TYPE_LATEST)
