"""The hub's HTTP protocol joins an answer's writes of one loop turn (entrypoints/joined_writes.py):
through a real uvicorn server on uvloop, what ends a connection's turns must not lose an answer
that reached the client without the joining. The server is this file run as a script: an ASGI
application of a few routes behind `BoundedHttpToolsProtocol`."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from crossroads.demo.launch import free_port_block, wait_ready


@pytest.fixture(scope="module")
def port():
    number = free_port_block(1)
    process = subprocess.Popen(
        [sys.executable, __file__, str(number)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{number}/ready", process)  # any path answers 200
        yield number
    finally:
        process.terminate()
        process.wait(10)


def exchange(port: int, request: bytes, *, receive_buffer: int | None = None) -> bytes:
    """Send `request`, end the sending side (as `nc -N` does), read until the server closes."""
    sock = socket.socket()
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(request)
    sock.shutdown(socket.SHUT_WR)
    time.sleep(0.3)  # the end of file is read while the first answer still waits to be sent
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    return data


@pytest.mark.parametrize("attempt", range(3))
def test_answers_written_after_the_client_s_end_of_file_while_the_connection_drains(port, attempt):
    """A large answer still buffered when the client's end of file is read: the transport
    closes once drained, and the pipelined answer behind it is written before it does."""
    answer = exchange(
        port,
        b"GET /big HTTP/1.1\r\nHost: hub\r\n\r\nGET /small HTTP/1.1\r\nHost: hub\r\n\r\n",
        receive_buffer=4096,
    )
    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert answer.endswith(b"\r\n\r\n{}")


def test_a_websocket_s_answer_to_a_client_that_half_closed_is_sent(port):
    """The websocket protocol takes the connection over with an `eof_received` of its own: it
    is handed the transport itself, and what it wrote before the client's end of file was read
    (the server's loop kept busy past the turn, so the end of file comes first) reaches the
    client."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"GET /socket HTTP/1.1\r\nHost: hub\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101")
    mask = b"\x01\x02\x03\x04"
    text = b"hello"
    sock.sendall(
        b"\x81"
        + bytes([0x80 | len(text)])
        + mask
        + bytes(b ^ mask[i % 4] for i, b in enumerate(text))
    )
    sock.shutdown(socket.SHUT_WR)
    data = head.partition(b"\r\n\r\n")[2]
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    assert b"echo:hello" in data


BIG = 3_000_000


async def app(scope, receive, send):  # pragma: no cover - runs in the server process
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "text": "echo:" + (message.get("text") or "")})
        time.sleep(0.3)  # noqa: ASYNC251 - the loop kept past the turn: the end of file comes first
        await send({"type": "websocket.close", "code": 1000})
        return
    body = b"x" * BIG if scope["path"] == "/big" else b"{}"
    length = str(len(body)).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]}
    )
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":  # pragma: no cover
    import uvicorn

    from crossroads.entrypoints.bounded_http import BoundedHttpToolsProtocol

    uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=int(sys.argv[1]),
            http=BoundedHttpToolsProtocol,
            loop="uvloop",
            lifespan="on",
            log_level="warning",
        )
    ).run()
