"""A member's server at the other end of an outbound call (an authentic source's endpoint, a
subscriber's webhook) is the member's to write: it may answer as slowly as it likes. What it may
not do is hold a call longer than the hub's timeouts allow, nor hold the connections the hub
shares with every other member's calls."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web

from crossroads.adapters.http1_client import Http1ProviderClient
from crossroads.adapters.provider_client import AiohttpProviderClient
from crossroads.domain.errors import Refusal

pytestmark = pytest.mark.anyio
# Sources are called through the first, webhooks through the second (bootstrap.py).
CLIENTS = pytest.mark.parametrize("made", [Http1ProviderClient, AiohttpProviderClient])


async def _serve(handler) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_post("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


async def _trickle(request: web.Request) -> web.StreamResponse:
    """Headers at once, then one byte of body every 0.2 s: each read comes well inside any read
    timeout, and the answer never ends."""
    await request.read()
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await response.prepare(request)
    while True:
        await response.write(b" ")
        await asyncio.sleep(0.2)


async def _silent(request: web.Request) -> web.Response:
    await request.read()
    await asyncio.sleep(5)
    return web.Response(status=204)


CHUNKED = b'{"names": [' + b",".join(b'"%05d"' % i for i in range(2000)) + b"]}"


async def _in_pieces(request: web.Request) -> web.StreamResponse:
    """A whole answer, sent in pieces of 1,000 bytes a few milliseconds apart."""
    await request.read()
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await response.prepare(request)
    for at in range(0, len(CHUNKED), 1000):
        await response.write(CHUNKED[at : at + 1000])
        await asyncio.sleep(0.005)
    await response.write_eof()
    return response


async def _prompt(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=200, body=b"{}", content_type="application/json")


@pytest.fixture
async def peers():
    started = [await _serve(h) for h in (_trickle, _silent, _in_pieces, _prompt)]
    names = ("trickle", "silent", "pieces", "prompt")
    yield {name: port for name, (_, port) in zip(names, started, strict=True)}
    for runner, _ in started:
        await runner.cleanup()


@CLIENTS
async def test_an_answer_that_trickles_ends_as_a_timeout_within_the_read_timeout(peers, made):
    client = made(1.0, 1.0, 8)
    started = time.monotonic()
    try:
        with pytest.raises(Refusal) as caught:
            # The guard only keeps a failing hub from hanging the suite.
            await asyncio.wait_for(
                client.post(f"http://127.0.0.1:{peers['trickle']}/answer", b"{}", {}), 10
            )
        assert caught.value.code == "provider_timeout"
        assert time.monotonic() - started < 8  # connect (1 s) + read (1 s), and a loaded machine
    finally:
        await client.close()


@CLIENTS
async def test_an_answer_sent_in_pieces_is_read_whole(peers, made):
    client = made(1.0, 2.0, 8)
    try:
        reply = await client.post(f"http://127.0.0.1:{peers['pieces']}/answer", b"{}", {})
        assert reply.body == CHUNKED
    finally:
        await client.close()


@CLIENTS
async def test_one_peer_that_never_answers_does_not_hold_the_connections_others_need(peers, made):
    """A pool of 8: a source (or a webhook) that keeps every call it is sent waiting may hold a
    share of them, never all; a call to another member's server still goes through at once."""
    client = made(1.0, 5.0, 8)
    held = [
        asyncio.ensure_future(
            client.post(f"http://127.0.0.1:{peers['silent']}/slow/{i}", b"{}", {})
        )
        for i in range(16)
    ]
    try:
        await asyncio.sleep(0.5)  # every one of them sent, or waiting for a connection
        # Waiting for a connection counts against the connect timeout (1 s): a call that found
        # none free would be refused `provider_timeout`.
        reply = await client.post(f"http://127.0.0.1:{peers['prompt']}/fast", b"{}", {})
        assert reply.status == 200
    finally:
        for call in held:
            call.cancel()
        await asyncio.gather(*held, return_exceptions=True)
        await client.close()
