"""Health, readiness and metrics: reachable without a token."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ...domain.errors import Refusal
from .errors import openapi_errors
from .json_input import JSONRoute
from .metrics import (
    DECLARATION_BATCHES_WAITING, DECLARATION_EVENTS_PENDING, DECLARATION_PUBLISH_FAILURES, PUBLISH_FAILURES,
    PUSH_FAILURES, REGISTRY, SEQUENCER_LEADER,
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
        raise Refusal("not_ready", "the store cannot be reached.") from None
    return {"status": "ready"}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    SEQUENCER_LEADER.set(1 if request.app.state.hub.sequencer.leading else 0)
    PUBLISH_FAILURES.set(request.app.state.hub.publisher.failures)
    PUSH_FAILURES.set(request.app.state.hub.push.failures)
    waiting, pending = await request.app.state.hub.store.declarations.backlog()
    DECLARATION_BATCHES_WAITING.set(waiting)
    DECLARATION_EVENTS_PENDING.set(pending)
    DECLARATION_PUBLISH_FAILURES.set(request.app.state.hub.declaration_publisher.failures)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
