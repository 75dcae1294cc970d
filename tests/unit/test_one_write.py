"""The hub's HTTP protocol writes an answer of known length in one write, and nothing else later
than uvicorn does: a stream's head, `100 Continue`, a failure after the answer started."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
import uvicorn
from uvicorn.server import ServerState

from crossroads.entrypoints.bounded_http import BoundedHttpToolsProtocol

pytestmark = pytest.mark.anyio

BODY = b'{"name":"Peeters"}'


class Recorder:
    """The connection's real transport, with every write it is given kept in order."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class Recorded(BoundedHttpToolsProtocol):
    made: ClassVar[list[Recorder]] = []

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        recorder = Recorder(transport)
        Recorded.made.append(recorder)
        super().connection_made(recorder)  # type: ignore[arg-type]


async def app(scope: dict, receive: Any, send: Any) -> None:
    path = scope["path"]
    if path == "/sized":
        length = str(len(BODY)).encode()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]}
        )
        await send({"type": "http.response.body", "body": BODY})
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.3)  # a part that comes late: the head must not wait for it
        await send({"type": "http.response.body", "body": b"late", "more_body": False})
    elif path == "/echo":
        message = await receive()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(message["body"]))],
            }
        )
        await send({"type": "http.response.body", "body": message["body"]})
    elif path == "/fails":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]}
        )
        raise RuntimeError("the application fails after starting its answer")


async def served(exchange: Any) -> tuple[Any, list[Recorder]]:
    """Run `exchange(reader, writer)` against the hub's protocol on a real socket."""
    config = uvicorn.Config(app, http=Recorded, lifespan="off", log_level="critical")
    config.load()
    state = ServerState()
    Recorded.made = []
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Recorded(config=config, server_state=state, app_state={}), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await asyncio.wait_for(exchange(reader, writer), 5), Recorded.made
    finally:
        writer.close()
        for connection in list(state.connections):
            connection.shutdown()
        server.close()


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: hub\r\n\r\n".encode()


async def test_an_answer_of_known_length_is_written_once_head_and_body_together():
    async def two_answers(reader, writer):
        for _ in range(2):  # and again on the same connection: each cycle joins its own
            writer.write(get("/sized"))
            await reader.readuntil(BODY)

    _, made = await served(two_answers)
    writes = made[0].writes
    assert len(writes) == 2
    for write in writes:
        assert write.startswith(b"HTTP/1.1 200 OK\r\n")
        assert write.endswith(b"\r\n\r\n" + BODY)


async def test_a_streamed_answer_s_head_leaves_before_its_late_part():
    async def head_first(reader, writer):
        writer.write(get("/stream"))
        head = await reader.readuntil(b"\r\n\r\n")
        rest = await reader.readuntil(b"0\r\n\r\n")
        return head, rest

    (head, rest), made = await served(head_first)
    assert b"transfer-encoding: chunked" in head
    assert b"late" not in head and b"late" in rest
    assert made[0].writes[0] == head


async def test_100_continue_is_sent_before_the_body_is_read():
    async def expect_continue(reader, writer):
        writer.write(
            b"POST /echo HTTP/1.1\r\nHost: hub\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = await reader.readuntil(b"\r\n\r\n")  # would wait forever if it were held
        writer.write(b"hello")
        return interim, await reader.readuntil(b"hello")

    (interim, answer), made = await served(expect_continue)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert made[0].writes == [interim, answer]


async def test_a_failure_after_the_answer_started_closes_without_a_partial_answer():
    async def read_all(reader, writer):
        writer.write(get("/fails"))
        return await reader.read()

    received, made = await served(read_all)
    assert received == b""
    assert made[0].writes == []
