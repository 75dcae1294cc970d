"""A connection's writes of one turn of the loop go to the socket as one write, in order, and none
waits past its turn (entrypoints/joined_writes.py), through the hub's HTTP protocol as uvicorn
drives it. The socket is the one part faked: a transport that records what reaches it."""

from __future__ import annotations

import asyncio

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from crossroads.entrypoints.bounded_http import BoundedHttpToolsProtocol
from crossroads.entrypoints.joined_writes import HELD_BYTES, JoinedWrites

pytestmark = pytest.mark.anyio


class Socket(asyncio.Transport):
    """What the kernel was handed: each write as one entry (`writelines` is one `writev`), and
    whether it was closed or its end of file written. A closed transport still takes writes
    while it drains, as uvloop's does; a lost one (`gone`) refuses them."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.gone = False
        self.aborted = False
        self.eof_written = False

    def writelines(self, list_of_data) -> None:
        self.write(b"".join(list_of_data))

    def write_eof(self) -> None:
        self.eof_written = True

    def write(self, data) -> None:
        assert not self.gone, "written to a lost connection"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    tls = False

    def get_extra_info(self, name, default=None):
        return {
            "peername": ("127.0.0.1", 40000),
            "sockname": ("127.0.0.1", 8000),
            "sslcontext": object() if self.tls else None,
        }.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


def wrapped(*, tls: bool = False) -> tuple[Socket, JoinedWrites]:
    """A socket (a TLS one if `tls`) and the joined writes over it, on the running loop."""
    socket = Socket()
    socket.tls = tls
    return socket, JoinedWrites(socket, asyncio.get_running_loop())


async def turns(n: int = 3) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_the_writes_of_one_turn_reach_the_socket_as_one_in_their_order():
    socket, joined = wrapped()
    joined.write(b"HTTP/1.1 200 OK\r\n\r\n")
    joined.write(b"")
    joined.write(bytearray(b"{}"))
    assert socket.writes == []
    await turns(1)
    assert socket.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}"]


async def test_writelines_joins_the_turn_in_its_place():
    socket, joined = wrapped()
    joined.write(b"a")
    joined.writelines([b"b", memoryview(b"c")])
    joined.write(b"d")
    await turns(1)
    assert socket.writes == [b"abcd"]


async def test_a_write_waits_no_longer_than_its_turn():
    socket, joined = wrapped()
    joined.write(b"first")
    await turns(1)
    joined.write(b"second")
    await turns(1)
    assert socket.writes == [b"first", b"second"]


async def test_a_turn_that_writes_more_than_the_bound_writes_it_at_once():
    """A response produced faster than it is read meets the transport's flow control, as
    without the joining: what a turn holds stays under HELD_BYTES."""
    socket, joined = wrapped()
    chunk = b"x" * 10_000
    for _ in range(20):
        joined.write(chunk)
        assert joined.get_write_buffer_size() < HELD_BYTES
    assert len(socket.writes) == 2  # at 70,000 and 140,000 bytes held
    assert all(len(write) < HELD_BYTES + len(chunk) for write in socket.writes)
    await turns(1)
    assert b"".join(socket.writes) == chunk * 20


async def test_close_and_write_eof_write_what_the_turn_held_first_and_abort_discards_it():
    socket, joined = wrapped()
    joined.write(b"last words")
    joined.close()
    assert socket.writes == [b"last words"] and socket.closed
    await turns()
    assert socket.writes == [b"last words"]

    socket, joined = wrapped()
    joined.write(b"the end")
    joined.write_eof()
    assert socket.writes == [b"the end"] and socket.eof_written

    socket, joined = wrapped()
    joined.write(b"never sent")
    assert joined.get_write_buffer_size() == len(b"never sent")
    joined.abort()
    await turns()
    assert socket.writes == [] and socket.aborted


async def test_a_write_to_a_closing_transport_goes_at_once_after_what_was_held():
    """Closed by its own side (the client's end of file read, a drain before closing), a
    transport has no turn left to wait for: it is written to as if unwrapped, in order."""
    socket, joined = wrapped()
    joined.write(b"held")
    socket.closed = True
    joined.write(b"more")
    assert socket.writes == [b"held", b"more"]
    await turns()
    assert socket.writes == [b"held", b"more"]


async def test_a_tls_transport_is_written_to_at_once():
    """uvloop's TLS layer can read a bare end of file without telling anyone: nothing is held."""
    socket, joined = wrapped(tls=True)
    joined.write(b"head")
    joined.write(b"body")
    assert socket.writes == [b"head", b"body"]


async def test_what_a_lost_connection_held_is_dropped():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    protocol, socket = protocol_with(app)
    protocol.data_received(GET)
    await asyncio.sleep(0)  # answered, held
    assert socket.writes == []
    socket.closed = socket.gone = True
    protocol.connection_lost(ConnectionResetError())
    await turns()
    assert socket.writes == []


def protocol_with(app) -> tuple[BoundedHttpToolsProtocol, Socket]:
    config = Config(app=app, http=BoundedHttpToolsProtocol, lifespan="off", access_log=False)
    protocol = BoundedHttpToolsProtocol(
        config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
    )
    socket = Socket()
    protocol.connection_made(socket)
    return protocol, socket


GET = b"GET /ready HTTP/1.1\r\nHost: hub\r\n\r\n"


async def test_an_answer_s_head_and_body_are_one_write():
    async def app(scope, receive, send):
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
        )
        await send({"type": "http.response.body", "body": b"{}"})

    protocol, socket = protocol_with(app)
    protocol.data_received(GET + GET)  # two pipelined requests: two answers, one write each
    await turns(10)
    assert len(socket.writes) == 2
    for write in socket.writes:
        assert write.startswith(b"HTTP/1.1 200 OK\r\n") and write.endswith(b"\r\n\r\n{}")
    protocol.connection_lost(None)


async def test_a_streamed_answer_s_first_part_is_not_held_for_the_rest():
    more = asyncio.Event()

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await more.wait()
        await send({"type": "http.response.body", "body": b"rest"})

    protocol, socket = protocol_with(app)
    protocol.data_received(GET)
    await turns(5)
    head_and_first = b"".join(socket.writes)
    assert head_and_first.startswith(b"HTTP/1.1 200 OK") and head_and_first.endswith(b"first\r\n")
    more.set()
    await turns(5)
    assert b"".join(socket.writes).endswith(b"4\r\nrest\r\n0\r\n\r\n")
    protocol.connection_lost(None)


async def test_the_protocol_s_own_refusal_is_written_and_the_connection_closed():
    async def app(scope, receive, send):  # never reached: the head is refused first
        raise AssertionError

    protocol, socket = protocol_with(app)
    protocol.max_head_bytes = 1_000
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: hub\r\nX: " + b"a" * 2_000 + b"\r\n\r\n")
    await turns()
    assert socket.closed
    assert len(socket.writes) == 1 and socket.writes[0].startswith(b"HTTP/1.1 431 ")


async def test_a_client_that_half_closes_after_its_request_still_reads_the_answer():
    """The client's end of file can be read before the turn's writes go out; the transport
    closes itself when `eof_received` returns, so the protocol writes the answer first."""

    async def app(scope, receive, send):
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
        )
        await send({"type": "http.response.body", "body": b"{}"})

    protocol, socket = protocol_with(app)
    protocol.data_received(GET)
    await asyncio.sleep(0)  # the application's task answers in its first step: held
    assert socket.writes == []
    if not protocol.eof_received():  # as uvloop does: the transport closes itself
        socket.closed = True
    await turns()
    assert len(socket.writes) == 1
    assert socket.writes[0].startswith(b"HTTP/1.1 200 OK") and socket.writes[0].endswith(b"{}")
