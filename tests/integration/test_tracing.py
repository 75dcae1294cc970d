"""OpenTelemetry spans, recorded by the SDK's in-memory exporter: the call to a provider (or a
webhook) is a client span whose context the peer receives as `traceparent`, an exchange is a
server span that continues its caller's trace, a declaration batch is a span; none names a
person, and with tracing off nothing is recorded nor sent."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from crossroads.adapters import tracing
from crossroads.adapters.http1_client import Http1ProviderClient
from crossroads.adapters.keys import HubKeys
from crossroads.adapters.provider_client import AiohttpProviderClient
from crossroads.bootstrap import bootstrap
from crossroads.demo import country

from ..conftest import make_settings, start_demo_hub

pytestmark = pytest.mark.anyio
_exporter: list[InMemorySpanExporter] = []  # one for the process, as its tracer provider is
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"


@pytest.fixture
def spans():
    if not _exporter:
        _exporter.append(InMemorySpanExporter())
    tracing.install(_exporter[0], batch=False)
    yield _exporter[0]
    _exporter[0].clear()
    tracing.uninstall()


async def peer(status: int, heard: list[dict]):
    """A real HTTP server on loopback that answers `status` and keeps each request's headers."""

    async def answer(reader, writer):
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")[1:]
        headers = dict(line.split(": ", 1) for line in head if line)
        await reader.readexactly(int(headers.get("Content-Length", 0)))
        heard.append({k.lower(): v for k, v in headers.items()})
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\n{{}}".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/services/x/1"


@pytest.mark.parametrize(
    ("name", "made"),
    [("provider call", Http1ProviderClient), ("push delivery", AiohttpProviderClient)],
)
async def test_a_call_out_is_a_client_span_whose_context_the_peer_receives(spans, name, made):
    client = made(1, 1, 2, span_name=name)
    heard: list[dict] = []
    server, url = await peer(200, heard)
    sent = {"Content-Type": "application/json"}
    try:
        async with server:
            with tracing.TRACER.start_as_current_span("exchange") as parent:
                await client.post(url + "?subject=85073003328", b"{}", sent)
    finally:
        await client.close()
    call = next(s for s in spans.get_finished_spans() if s.name == name)
    assert call.kind is SpanKind.CLIENT and call.parent.span_id == parent.get_span_context().span_id
    trace_id = f"{call.context.trace_id:032x}"
    _, sent_trace, sent_span, flags = heard[0]["traceparent"].split("-")
    assert (sent_trace, sent_span) == (trace_id, f"{call.context.span_id:016x}")
    assert int(flags, 16) & 1  # sampled
    assert sent == {"Content-Type": "application/json"}  # the caller's headers are left alone
    assert call.attributes["http.response.status_code"] == 200
    assert call.attributes["url.full"] == url  # never the query


@pytest.mark.parametrize("made", [Http1ProviderClient, AiohttpProviderClient])
async def test_a_peer_that_fails_ends_its_span_in_error_with_no_text_it_sent(spans, made):
    client = made(1, 1, 2)
    server, url = await peer(503, [])
    try:
        async with server:
            await client.post(url, b"{}", {})
    finally:
        await client.close()
    (call,) = spans.get_finished_spans()
    assert call.status.status_code is StatusCode.ERROR and call.status.description == "HTTP 503"


@pytest.mark.parametrize("made", [Http1ProviderClient, AiohttpProviderClient])
async def test_with_tracing_off_nothing_is_recorded_or_sent(spans, made):
    tracing.uninstall()
    client = made(1, 1, 2)
    heard: list[dict] = []
    server, url = await peer(200, heard)
    try:
        async with server:
            await client.post(url, b"{}", {})
    finally:
        await client.close()
    assert spans.get_finished_spans() == () and "traceparent" not in heard[0]


async def test_an_exchange_is_a_server_span_continuing_its_callers_trace(spans, tmp_path):
    demo = await start_demo_hub(tmp_path, tracing=True)
    try:
        subject = demo.held_by("welfare")[0]
        token = await demo.token(demo.welfare)
        answer = await demo.http.post(
            "/v1/exchange/health.affiliation",
            headers={
                "Authorization": f"Bearer {token}",
                "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01",
            },
            json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
        )
        assert answer.status_code == 200, answer.text
    finally:
        await demo.http.aclose()
        await demo.hub.close()
    server = next(s for s in spans.get_finished_spans() if s.name.endswith("{service}"))
    assert server.kind is SpanKind.SERVER and server.name == "POST /v1/exchange/{service}"
    assert f"{server.context.trace_id:032x}" == TRACE_ID
    assert f"{server.parent.span_id:016x}" == CALLER_SPAN
    assert server.attributes["crossroads.request_id"] == answer.headers["x-request-id"]
    assert server.attributes["crossroads.client_id"] == demo.welfare
    assert server.attributes["http.response.status_code"] == 200
    assert subject not in repr(dict(server.attributes)) and token not in repr(server.to_json())


async def test_a_declaration_batch_is_a_span(spans, tmp_path):
    demo = await start_demo_hub(tmp_path)
    try:
        token = await demo.token(f"{country.BY_KEY['payroll'].number}:payroll-app")
        body = orjson.dumps([{"DimonaIn": {"StartingDate": "not a date"}}])
        uploaded = await demo.http.post(
            "/v1/declarations/batches/dimona",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert uploaded.status_code == 202, uploaded.text
        assert await demo.hub.declaration_batches.process_waiting() == 1
    finally:
        await demo.http.aclose()
        await demo.hub.close()
    (batch,) = [s for s in spans.get_finished_spans() if s.name == "declaration batch"]
    assert batch.attributes["crossroads.batch_id"] >= 1 and batch.status.is_ok


async def test_the_hub_names_its_calls_to_providers_and_to_webhooks_apart(spans, tmp_path):
    HubKeys.load_or_create(tmp_path / "keys")  # as `serve` does for a new hub
    hub = await bootstrap(make_settings(tmp_path, allow_internal_webhooks=True))
    server, url = await peer(200, [])
    try:
        async with server:
            await hub.providers.post(url, b"{}", {})
            await hub.webhooks.post(url, b"[]", {})
    finally:
        await hub.close()
    assert [s.name for s in spans.get_finished_spans()] == ["provider call", "push delivery"]
