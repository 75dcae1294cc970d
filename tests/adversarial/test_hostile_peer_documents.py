"""A pinned peer hub, a witness, the hub a witness follows, or an identity provider is another
party's server: broken or hostile, it may answer slowly, byte by byte, or without end. A fetch
must end within its deadline whatever the server does (headers included), and must not hold one
of the threads the hub's SQLite store shares with every member's requests."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from starlette.requests import Request

from crossroads.adapters.bounded_get import BoundedTransport
from crossroads.adapters.head_targets import WitnessTarget
from crossroads.adapters.key_history_source import MAX_BYTES, HttpKeyHistory
from crossroads.adapters.oidc import MAX_ANSWER_BYTES, OidcSignIn
from crossroads.adapters.peer_documents import HttpPeerDocuments
from crossroads.domain.errors import Refusal
from crossroads.domain.unique_keys import DuplicateKey
from crossroads.providerkit import HubKeySet

pytestmark = pytest.mark.anyio

DEADLINE = 1.0
HISTORY = json.dumps({"keys": []}).encode()
# Read as no keys by a parser keeping the first, as one key by one keeping the last.
REPEATED = b'{"keys": [], "keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}]}'


async def _serve(mode: str, stop: asyncio.Event) -> tuple[asyncio.base_events.Server, str]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        try:
            if mode == "trickle_head":  # the status line, a byte at a time, never ending
                for byte in b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 1_000_000:
                    if stop.is_set():
                        break
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(0.05)
            elif mode == "trickle_body":  # headers at once, then a byte every 50 ms
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
                while not stop.is_set():
                    writer.write(b" ")
                    await writer.drain()
                    await asyncio.sleep(0.05)
            elif mode == "huge":  # more than the cap, fast, with no length announced
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                writer.write(b" " * (max(MAX_BYTES, MAX_ANSWER_BYTES) + 10))
                await writer.drain()
            else:
                body = {"history": HISTORY, "repeated": REPEATED}.get(mode, b"a.b.c")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


@pytest.fixture
async def peer():
    stop = asyncio.Event()
    servers = []

    async def start(mode: str) -> str:
        server, url = await _serve(mode, stop)
        servers.append(server)
        return url

    yield start
    stop.set()
    await asyncio.sleep(0.2)  # the handlers see the stop and close their connections
    for server in servers:
        server.close()


async def _ends_by_itself(fetch, within: float) -> BaseException | object:
    """What `fetch` raised or returned; fails when it is still running after `within` seconds."""
    task = asyncio.ensure_future(fetch)
    done, _ = await asyncio.wait({task}, timeout=within)
    if task not in done:
        task.cancel()
        pytest.fail(f"the fetch was still running after {within} s")
    return task.exception() or task.result()


@pytest.mark.parametrize("mode", ["trickle_head", "trickle_body"])
@pytest.mark.parametrize("what", ["document", "key_history"])
async def test_a_trickling_peer_is_given_up_at_the_deadline(peer, mode, what):
    url = await peer(mode)
    documents = HttpPeerDocuments(DEADLINE)
    started = time.monotonic()
    outcome = await _ends_by_itself(getattr(documents, what)(url), within=10 * DEADLINE)
    assert isinstance(outcome, Exception)
    assert time.monotonic() - started < 10 * DEADLINE


async def test_a_document_past_the_cap_is_refused_unread(peer):
    url = await peer("huge")
    outcome = await _ends_by_itself(HttpPeerDocuments(DEADLINE).document(url), within=10)
    assert isinstance(outcome, ValueError)
    assert "more than" in str(outcome)


async def test_a_prompt_peer_is_read_whole(peer):
    documents = HttpPeerDocuments(DEADLINE)
    assert await documents.document(await peer("document")) == "a.b.c"
    assert await documents.key_history(await peer("history")) == {"keys": []}


async def test_the_witness_gives_up_on_a_trickling_hub_at_the_deadline(peer):
    """The witness asks synchronously (services/hub_key_trust.py): the same deadline holds."""
    history = HttpKeyHistory(await peer("trickle_body"), DEADLINE)
    started = time.monotonic()
    outcome = await _ends_by_itself(asyncio.to_thread(_raised, history.fetch), within=10)
    assert isinstance(outcome, Exception)
    assert time.monotonic() - started < 10 * DEADLINE


def _raised(call) -> BaseException | object:
    try:
        return call()
    except Exception as exc:
        return exc


@pytest.mark.parametrize("mode", ["trickle_head", "trickle_body"])
async def test_a_trickling_witness_is_given_up_at_the_deadline(peer, mode):
    """The publisher serves its targets in turn: a witness answering without end would hold
    back every other target's heads (services/head_publisher.py)."""
    async with httpx.AsyncClient(timeout=DEADLINE) as http:
        witness = WitnessTarget(await peer(mode), http)
        started = time.monotonic()
        outcome = await _ends_by_itself(witness.latest(), within=30)
    assert isinstance(outcome, Exception)
    assert time.monotonic() - started < 30


async def test_a_key_history_naming_a_key_twice_is_refused(peer):
    history = HttpKeyHistory(await peer("repeated"), DEADLINE)
    with pytest.raises(DuplicateKey):
        await history.fetch_async()


async def test_a_witness_answer_naming_a_key_twice_is_refused(peer):
    async with httpx.AsyncClient(timeout=DEADLINE) as http:
        witness = WitnessTarget(await peer("repeated"), http)
        with pytest.raises(DuplicateKey):
            await witness.latest()


@pytest.mark.parametrize("mode", ["trickle_head", "trickle_body", "huge"])
async def test_a_trickling_or_endless_identity_provider_is_given_up(peer, mode):
    """Discovery is fetched at a person's first sign-in: an issuer answering without end held it
    (and every later one) open for as long as it liked, and Authlib reads its answers whole."""
    signin = OidcSignIn(await peer(mode), "hub", None, "sub", {"timeout": DEADLINE})
    request = Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/sign-in",
            "headers": [],
            "query_string": b"",
            "session": {},
            "scheme": "http",
            "server": ("hub.test", 80),
        }
    )
    started = time.monotonic()
    outcome = await _ends_by_itself(signin.redirect(request, "http://hub.test/back"), within=30)
    assert isinstance(outcome, Refusal) and outcome.code == "not_ready"
    assert time.monotonic() - started < 30
    if mode == "huge":
        assert f"more than {MAX_ANSWER_BYTES} bytes" in outcome.message


@pytest.mark.parametrize("mode", ["trickle_head", "trickle_body", "huge", "repeated"])
async def test_the_provider_kit_fetches_the_hubs_keys_within_bounds(peer, mode):
    """The kit reads the hub's JWKS (providerkit/hub_keys.py): a body without end, or one past
    its cap, is given up; one naming a key twice is refused."""
    url = await peer(mode)
    started = time.monotonic()
    outcome = await _ends_by_itself(
        asyncio.to_thread(_raised, lambda: HubKeySet.from_url(url, timeout=DEADLINE)), within=30
    )
    expected = {
        "trickle_head": TimeoutError,
        "trickle_body": TimeoutError,
        "huge": ValueError,
        "repeated": DuplicateKey,
    }
    assert isinstance(outcome, expected[mode]), outcome
    assert mode != "huge" or "more than" in str(outcome)
    assert time.monotonic() - started < 10 * DEADLINE


async def test_the_identity_provider_is_reached_through_the_environment_s_proxy(monkeypatch):
    """Bounding the answers' size gave the sign-in's client a transport of its own, and httpx then
    ignores HTTP(S)_PROXY: a hub whose identity provider is reached through a proxy lost sign-in.
    The bounded transport sends through the environment's proxy, as the client did before."""
    seen: list[bytes] = []
    body = json.dumps({"issuer": "http://idp.example"}).encode()

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n", 1)[0])
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        transport = BoundedTransport(MAX_ANSWER_BYTES)
        for _ in range(2):  # Authlib makes a client for each exchange, all with one transport
            async with httpx.AsyncClient(transport=transport) as client:
                answer = await client.get("http://idp.example/.well-known/openid-configuration")
            assert answer.json() == {"issuer": "http://idp.example"}
        assert seen == [b"GET http://idp.example/.well-known/openid-configuration HTTP/1.1"] * 2
    finally:
        server.close()
        await server.wait_closed()
