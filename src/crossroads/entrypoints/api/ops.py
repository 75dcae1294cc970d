"""Health, readiness and metrics: reachable without a token."""

from __future__ import annotations

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST

from .answer_models import Readiness, Status
from .dependencies import HubStatusDep
from .errors import openapi_errors
from .hub_router import HubRouter
from .json_input import JSONRoute
from .metrics import (
    DECLARATION_BATCHES_WAITING,
    DECLARATION_EVENTS_PENDING,
    PUSH_STALLED,
    exposition,
)
from .openapi_models import answers
from .process_metrics import failures, sample

router = HubRouter(route_class=JSONRoute, tags=["operations"])


@router.get("/health", summary="The process is up", responses=answers(Status, {}))
async def health() -> dict:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="The hub can reach its store",
    responses=answers(Readiness, openapi_errors("not_ready")),
)
async def ready(status: HubStatusDep) -> dict:
    await status.ready()
    # Degraded still serves (200): what is named waits, e.g. pushes in the outbox.
    degraded = await status.degraded()
    return {"status": "degraded", "degraded": degraded} if degraded else {"status": "ready"}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(status: HubStatusDep) -> Response:
    # Every worker's metrics, whichever worker answers (entrypoints/api/metrics.py).
    gauges = await status.gauges()
    sample(status)
    DECLARATION_BATCHES_WAITING.set(gauges.declaration_batches_waiting)
    DECLARATION_EVENTS_PENDING.set(gauges.declaration_events_pending)
    PUSH_STALLED.set(gauges.push_stalled_seconds)
    return Response(exposition(failures(status.running())), media_type=CONTENT_TYPE_LATEST)
