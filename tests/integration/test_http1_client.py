"""The providers' client (adapters/http1_client.py) against raw HTTP/1.1 servers on loopback that
answer exactly the bytes each test writes: what it sends, when it reuses a connection and when
not, the answers it reads whole, and those it refuses. The bounds it shares with the webhooks'
client (timeouts, size, one host's share of the pool, TLS) are tested on both, in
test_provider_client.py, tests/adversarial/test_slow_peers.py and test_outbound_tls.py."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time

import pytest

from crossroads.adapters import http1_client
from crossroads.adapters.http1_client import Http1ProviderClient
from crossroads.domain.errors import Refusal

pytestmark = pytest.mark.anyio

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class RawPeer:
    """A server that reads each request whole and writes `answers(n)` for the n-th request
    (0-based) over all connections; `None` writes nothing and keeps the connection open.
    Keeps each connection's requests, as received."""

    def __init__(self, answers) -> None:
        self.answers = answers
        self.connections: list[list[bytes]] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.count = 0

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests: list[bytes] = []
        self.connections.append(requests)
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                requests.append(head + await reader.readexactly(length))
                answer = self.answers(self.count)
                self.count += 1
                if answer is None:
                    await asyncio.sleep(30)
                    return
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower() or answer.startswith(b"HTTP/1.0"):
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def stop(self) -> None:
        for writer in self.writers:
            writer.close()
        self.server.close()


@pytest.fixture
async def peer():
    made: list[RawPeer] = []

    async def start(answers) -> tuple[RawPeer, str]:
        raw = RawPeer(answers)
        made.append(raw)
        return raw, await raw.start()

    yield start
    for raw in made:
        await raw.stop()


@pytest.fixture
async def client():
    made = Http1ProviderClient(connect_timeout=1, read_timeout=1, pool_size=4)
    yield made
    await made.close()


async def test_what_is_sent_is_one_well_formed_request(peer, client):
    raw, base = await peer(lambda n: OK)
    reply = await client.post(
        f"{base}/services/person identity/1?x=é",
        b'{"subject":"x"}',
        {"Content-Type": "application/json", "X-Crossroads-Signature": "sig"},
    )
    assert (reply.status, reply.body, reply.content_type) == (200, b"{}", "application/json")
    head, body = raw.connections[0][0].split(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    port = base.rsplit(":", 1)[1]
    assert lines[0] == b"POST /services/person%20identity/1?x=%C3%A9 HTTP/1.1"
    assert set(lines[1:]) == {
        f"Host: 127.0.0.1:{port}".encode(),
        b"Content-Length: 15",
        b"Accept-Encoding: identity",
        b"Content-Type: application/json",
        b"X-Crossroads-Signature: sig",
    }
    assert body == b'{"subject":"x"}'


async def test_calls_one_after_the_other_share_one_connection(peer, client):
    raw, base = await peer(lambda n: OK)
    for _ in range(5):
        assert (await client.post(f"{base}/a", b"{}", {})).status == 200
    assert [len(requests) for requests in raw.connections] == [5]


async def test_an_answer_that_closes_its_connection_is_read_and_the_next_call_connects_again(
    peer, client
):
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye"
    raw, base = await peer(lambda n: closing)
    assert (await client.post(f"{base}/a", b"{}", {})).body == b"bye"
    assert (await client.post(f"{base}/a", b"{}", {})).body == b"bye"
    assert [len(requests) for requests in raw.connections] == [1, 1]


async def test_a_connection_the_server_closed_while_idle_is_not_used_again(peer, client):
    raw, base = await peer(lambda n: OK)
    await client.post(f"{base}/a", b"{}", {})
    raw.writers[0].close()  # the server's own idle timeout
    await asyncio.sleep(0.1)
    assert (await client.post(f"{base}/a", b"{}", {})).status == 200
    assert [len(requests) for requests in raw.connections] == [1, 1]


async def test_a_connection_idle_past_its_time_is_not_used_again(peer, client, monkeypatch):
    monkeypatch.setattr(http1_client, "IDLE_SECONDS", 0.05)
    raw, base = await peer(lambda n: OK)
    await client.post(f"{base}/a", b"{}", {})
    await asyncio.sleep(0.1)
    await client.post(f"{base}/a", b"{}", {})
    assert [len(requests) for requests in raw.connections] == [1, 1]


async def test_bytes_sent_between_answers_retire_the_connection(peer, client):
    raw, base = await peer(lambda n: OK)
    await client.post(f"{base}/a", b"{}", {})
    raw.writers[0].write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra")
    await asyncio.sleep(0.1)
    assert (await client.post(f"{base}/a", b"{}", {})).body == b"{}"
    assert len(raw.connections) == 2


@pytest.mark.parametrize("extra", [OK, OK[:30]], ids=["a whole second answer", "the start of one"])
async def test_a_second_answer_to_one_request_retires_the_connection(peer, client, extra):
    raw, base = await peer(lambda n: OK + extra if n == 0 else OK)
    assert (await client.post(f"{base}/a", b"{}", {})).body == b"{}"
    await asyncio.sleep(0.05)
    assert (await client.post(f"{base}/a", b"{}", {})).body == b"{}"
    assert [len(requests) for requests in raw.connections] == [1, 1]


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n3\r\n[1]\r\n0\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}[1]",
        b"HTTP/1.0 200 OK\r\n\r\n{}[1]",
    ],
    ids=["chunked", "after an interim answer", "delimited by the close"],
)
async def test_an_answer_is_read_whole_however_it_is_framed(peer, client, answer):
    _, base = await peer(lambda n: answer if n == 0 else OK)
    reply = await client.post(f"{base}/a", b"{}", {})
    assert (reply.status, reply.body) == (200, b"{}[1]")
    assert (await client.post(f"{base}/a", b"{}", {})).status == 200  # the pool still serves


@pytest.mark.parametrize(
    "coded",
    [
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n\x1f\x8b",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\n\x1f\x8b\r\n0\r\n\r\n",
    ],
    ids=["a content coding", "a transfer coding"],
)
async def test_an_answer_coded_without_being_asked_is_refused(peer, client, coded):
    _, base = await peer(lambda n: coded)
    with pytest.raises(Refusal) as refused:
        await client.post(f"{base}/a", b"{}", {})
    assert refused.value.code == "invalid_provider_response"


@pytest.mark.parametrize(
    "answer",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nConnection: close\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n",
    ],
    ids=[
        "not HTTP",
        "cut short",
        "a length that is no number",
        "an interim answer, then the close",
        "an upgrade",
    ],
)
async def test_a_broken_answer_is_unavailable_and_names_no_address(peer, client, answer, caplog):
    _, base = await peer(lambda n: answer)
    with caplog.at_level(logging.ERROR, logger="asyncio"), pytest.raises(Refusal) as refused:
        await client.post(f"{base}/a", b"{}", {})
    assert refused.value.code == "provider_unavailable"
    assert "127.0.0.1" not in refused.value.message
    assert not [r for r in caplog.records if r.name == "asyncio"]  # no "Fatal error" logged


async def test_an_answer_cut_by_a_reset_is_not_taken_as_whole(peer, client):
    """An answer delimited by the close ends with the close, never with a reset."""
    raw, base = await peer(lambda n: None)
    call = asyncio.ensure_future(client.post(f"{base}/a", b"{}", {}))
    await asyncio.sleep(0.2)  # the request sent and read
    writer = raw.writers[0]
    writer.write(b'HTTP/1.1 200 OK\r\n\r\n{"partial": ')
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
    )
    writer.transport.abort()  # with no linger: a reset, not a close
    with pytest.raises(Refusal) as refused:
        await call
    assert refused.value.code == "provider_unavailable"


async def test_headers_past_their_bound_are_refused_before_they_are_gathered(peer, client):
    endless = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (4 * 1024 * 1024)
    _, base = await peer(lambda n: endless)
    with pytest.raises(Refusal) as refused:
        await client.post(f"{base}/a", b"{}", {})
    assert refused.value.code == "invalid_provider_response"
    assert "65,536 bytes of headers" in refused.value.message


async def test_headers_near_their_bound_with_a_body_in_the_same_read_are_an_answer(peer, client):
    body = b"[" + b"1," * 50_000 + b"1]"
    head = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"p" * 60_000 + b"\r\n"
    answer = head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    _, base = await peer(lambda n: answer)
    reply = await client.post(f"{base}/a", b"{}", {})
    assert (reply.status, reply.body) == (200, body)


async def test_trailers_change_nothing_of_the_answer(peer, client):
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        b"Trailer: Content-Type\r\n\r\n2\r\n{}\r\n0\r\nContent-Type: text/evil\r\n\r\n"
    )
    _, base = await peer(lambda n: answer)
    reply = await client.post(f"{base}/a", b"{}", {})
    assert (reply.body, reply.content_type) == (b"{}", "application/json")


async def test_an_address_that_is_not_http_is_unavailable(client):
    for url in ("ftp://127.0.0.1/x", "no address", "http://a..b/x", f"https://{'a' * 64}.be/x"):
        with pytest.raises(Refusal) as refused:
            await client.post(url, b"{}", {})
        assert refused.value.code == "provider_unavailable"


async def test_a_header_value_with_a_line_break_is_never_sent(peer, client):
    raw, base = await peer(lambda n: OK)
    with pytest.raises(ValueError):
        await client.post(f"{base}/a", b"{}", {"X-Road-Id": "a\r\nX-Injected: 1"})
    assert raw.connections == []


async def test_a_cancelled_call_gives_its_connection_back_and_closes_it(peer):
    """One host may hold one call (per_host=1): a cancelled call's slot is free again at once,
    and its connection (in an unknown state) is not used again."""
    raw, base = await peer(lambda n: None if n == 0 else OK)
    client = Http1ProviderClient(connect_timeout=1, read_timeout=5, pool_size=2, per_host=1)
    try:
        held = asyncio.ensure_future(client.post(f"{base}/slow", b"{}", {}))
        await asyncio.sleep(0.2)
        held.cancel()
        await asyncio.gather(held, return_exceptions=True)
        started = time.monotonic()
        assert (await client.post(f"{base}/fast", b"{}", {})).status == 200
        assert time.monotonic() - started < 0.5
        assert [len(requests) for requests in raw.connections] == [1, 1]
    finally:
        await client.close()


async def test_waiting_for_a_connection_counts_against_the_connect_timeout(peer):
    _, base = await peer(lambda n: None if n == 0 else OK)
    client = Http1ProviderClient(connect_timeout=0.3, read_timeout=5, pool_size=2, per_host=1)
    held = asyncio.ensure_future(client.post(f"{base}/slow", b"{}", {}))
    try:
        await asyncio.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(Refusal) as refused:
            await client.post(f"{base}/waits", b"{}", {})
        assert refused.value.code == "provider_timeout"
        assert 0.1 < time.monotonic() - started < 2
        held.cancel()
        await asyncio.gather(held, return_exceptions=True)
        # The slot the timed-out waiter never got is not lost: the pool still serves the host.
        assert (await client.post(f"{base}/after", b"{}", {})).status == 200
    finally:
        held.cancel()
        await client.close()


async def test_many_calls_at_once_all_get_their_own_answer(peer):
    """More calls than the pool holds, each answered with its own number: every call gets its
    answer, none another's, over at most `per_host` connections."""

    def numbered(n: int) -> bytes:
        body = str(n).encode()
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    raw, base = await peer(numbered)
    client = Http1ProviderClient(connect_timeout=2, read_timeout=5, pool_size=4, per_host=3)
    try:
        replies = await asyncio.gather(*(client.post(f"{base}/n", b"{}", {}) for _ in range(60)))
        assert sorted(int(r.body) for r in replies) == list(range(60))
        assert len(raw.connections) <= 3
    finally:
        await client.close()
