"""OpenTelemetry traces: off unless `CROSSROADS_TRACING` is on, then sent by the standard OTLP/HTTP
exporter, which the standard `OTEL_*` variables configure (endpoint, headers, certificate,
timeout; `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`).

The spans are opened where the hub meets the outside: the API's server span for each request
(entrypoints/api/server_spans.py), the call to a provider or a webhook (provider_client.py, which
also sends the W3C `traceparent`, so that a provider's own spans join the exchange's trace), and
a declaration batch handed to the batch worker (batch_worker.py). No span carries a person's
identifier, a token or a query: the route, the request id, the calling application, the peer's
address and the outcome.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

TRACER = trace.get_tracer("crossroads")
_on = False  # checked before each span: with tracing off, the hot path pays one test
_installed = False


def enabled() -> bool:
    return _on


def install(exporter: SpanExporter | None = None, *, batch: bool = True) -> None:
    """Turn tracing on in this process: spans go to `exporter` (by default the OTLP/HTTP exporter,
    configured from the environment), in batches from a background thread unless `batch` is
    false. OpenTelemetry allows one tracer provider per process: a later call only turns tracing
    back on (after `uninstall`), with the first call's exporter."""
    # The SDK is imported only here: a hub that does not trace does not load it.
    from opentelemetry.sdk.resources import PROCESS_PID, SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    global _on, _installed
    if _installed:
        _on = True
        return
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    attributes: dict = {PROCESS_PID: os.getpid()}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes[SERVICE_NAME] = "crossroads-hub"
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(
        BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    )
    trace.set_tracer_provider(provider)
    _on = _installed = True


def uninstall() -> None:
    """Stop opening spans in this process (the provider stays: OpenTelemetry keeps the first)."""
    global _on
    _on = False


@contextmanager
def outgoing(name: str, url: str, headers: dict[str, str]) -> Iterator[Span | None]:
    """A client span around a POST to `url`, a child of the current span, whose context is added
    to `headers` (W3C traceparent); None, and `headers` untouched, while tracing is off."""
    if not _on:
        yield None
        return
    with _span(
        name,
        SpanKind.CLIENT,
        {"http.request.method": "POST", "url.full": url.split("?", 1)[0]},
    ) as span:
        propagate.inject(headers)
        yield span


@contextmanager
def internal(name: str, attributes: dict) -> Iterator[Span | None]:
    """A span of work the hub does by itself (a declaration batch), or None while tracing is off."""
    if not _on:
        yield None
        return
    with _span(name, SpanKind.INTERNAL, attributes) as span:
        yield span


def failed(span: Span | None, description: str) -> None:
    """Mark `span` (when there is one) as ended in error; `description` names no person."""
    if span is not None:
        span.set_status(Status(StatusCode.ERROR, description))


@contextmanager
def _span(name: str, kind: SpanKind, attributes: dict) -> Iterator[Span]:
    """A current span that records of an exception only its type: an exception's text may quote
    what a caller sent (a person's identifier), and traces leave the hub."""
    with TRACER.start_as_current_span(
        name,
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            status = getattr(span, "status", None)
            if status is None or status.status_code is StatusCode.UNSET:
                failed(span, type(exc).__name__)
            raise
