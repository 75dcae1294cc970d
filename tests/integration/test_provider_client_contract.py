"""One contract for the provider client (ProviderClient in services/ports/calls.py), run against
each implementation: the hub's two clients (providers' and webhooks') against a real HTTP server
on loopback, and the two the tests put in its place (tests/support.py's ASGI client, tests/fakes'
in-memory one), so that a test double behaves as the real client does."""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from crossroads.adapters.http1_client import Http1ProviderClient
from crossroads.adapters.provider_client import AiohttpProviderClient
from crossroads.demo.launch import free_port_block
from crossroads.domain.errors import Refusal
from crossroads.services.ports import ProviderReply

from ..fakes import MemoryProviders
from ..support import AsgiProviderClient

pytestmark = pytest.mark.anyio


def provider(path: str, body: bytes, headers: dict[str, str]) -> ProviderReply:
    """The one provider behind every implementation: echoes what it was sent, or is a teapot."""
    if path == "/echo":
        sent = {"body": body.decode(), "signature": headers.get("x-crossroads-signature")}
        return ProviderReply(200, json.dumps(sent).encode(), "application/json")
    return ProviderReply(418, b"no", "text/plain")


def lowered(headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


async def asgi_provider(scope, receive, send):
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    reply = provider(scope["path"], body, headers)
    await send(
        {
            "type": "http.response.start",
            "status": reply.status,
            "headers": [(b"content-type", reply.content_type.encode())],
        }
    )
    await send({"type": "http.response.body", "body": reply.body})


@pytest.fixture(params=["http1", "aiohttp", "asgi", "memory"])
async def client(request):
    """(the client, the provider's base URL, a base URL nobody answers at)."""
    nowhere = f"http://127.0.0.1:{free_port_block(1)}"
    if request.param in ("http1", "aiohttp"):

        async def handle(incoming: web.Request) -> web.Response:
            reply = provider(incoming.path, await incoming.read(), lowered(incoming.headers))
            return web.Response(
                status=reply.status, body=reply.body, headers={"Content-Type": reply.content_type}
            )

        app = web.Application()
        app.router.add_post("/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        kind = Http1ProviderClient if request.param == "http1" else AiohttpProviderClient
        made = kind(connect_timeout=2, read_timeout=5, pool_size=4)
        yield made, f"http://127.0.0.1:{port}", nowhere
        await made.close()
        await runner.cleanup()
    elif request.param == "asgi":
        made = AsgiProviderClient({"provider.test:1": asgi_provider})
        yield made, "http://provider.test:1", nowhere
        await made.close()
    else:

        def answer(path: str):
            async def answering(body: bytes, headers: dict[str, str]) -> ProviderReply:
                return provider(path, body, lowered(headers))

            return answering

        base = "http://provider.test:1"
        made = MemoryProviders({f"{base}{p}": answer(p) for p in ("/echo", "/teapot")})
        yield made, base, nowhere


async def test_the_provider_gets_the_body_and_headers_and_its_answer_comes_back(client):
    made, base, _ = client
    reply = await made.post(
        f"{base}/echo",
        b'{"subject":"x"}',
        {"Content-Type": "application/json", "X-Crossroads-Signature": "sig"},
    )
    assert (reply.status, reply.content_type.split(";")[0]) == (200, "application/json")
    assert json.loads(reply.body) == {"body": '{"subject":"x"}', "signature": "sig"}


async def test_an_error_status_is_an_answer_not_a_refusal(client):
    made, base, _ = client
    reply = await made.post(f"{base}/teapot", b"{}", {"Content-Type": "application/json"})
    assert (reply.status, reply.body) == (418, b"no")


async def test_an_address_nobody_answers_at_is_refused_as_unavailable(client):
    made, _, nowhere = client
    with pytest.raises(Refusal) as refused:
        await made.post(f"{nowhere}/echo", b"{}", {"Content-Type": "application/json"})
    assert refused.value.code == "provider_unavailable"
