"""Health, readiness and metrics: reachable without a token."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from .dependencies import HubStatusDep
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
async def ready(status: HubStatusDep) -> dict:
    await status.ready()
    return {"status": "ready"}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(status: HubStatusDep) -> Response:
    gauges = await status.gauges()
    SEQUENCER_LEADER.set(1 if gauges.leading else 0)
    DECLARATION_BATCHES_WAITING.set(gauges.declaration_batches_waiting)
    DECLARATION_EVENTS_PENDING.set(gauges.declaration_events_pending)
    return Response(exposition({
        "crossroads_tree_head_publish_failures": gauges.publish_failures,
        "crossroads_push_round_failures": gauges.push_failures,
        "crossroads_declaration_publish_failures": gauges.declaration_publish_failures,
    }), media_type=CONTENT_TYPE_LATEST)
