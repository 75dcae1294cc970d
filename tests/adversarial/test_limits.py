"""Limits that no caller can push the hub past: the HTTP server's head size and read times (a
real `crossroads serve` process on a free port), the metrics' label set, and demo mode, which
`crossroads serve` refuses. And what the server's own writing must not break: an answer to a
client that half-closed after its request."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from crossroads.adapters.sql.store import open_store
from crossroads.demo.launch import free_port_block, wait_ready
from crossroads.domain.audit import AuditRecord

from ..conftest import start_demo_hub

CLI = [sys.executable, "-m", "crossroads.entrypoints.cli"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`crossroads serve` with short read times and a small head, on an empty SQLite store."""
    data_dir = tmp_path_factory.mktemp("limits")
    port = free_port_block(1)
    store = f"sqlite:///{data_dir / 'hub.sqlite3'}"
    env = {
        **os.environ,
        "CROSSROADS_DATA_DIR": str(data_dir),
        "CROSSROADS_STORE_URL": store,
        "CROSSROADS_PORT": str(port),
        "CROSSROADS_MAX_HEADER_BYTES": "8192",
        "CROSSROADS_HEADER_TIMEOUT_SECONDS": "1",
        "CROSSROADS_BODY_TIMEOUT_SECONDS": "1",
    }
    env.pop("CROSSROADS_DEMO", None)
    process = subprocess.Popen(
        [*CLI, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/ready", process)
        yield port, store
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def read_answer(sock: socket.socket) -> tuple[int, dict, dict, float]:
    """Status, headers and JSON body of the answer, and when the server closed the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    closed = time.monotonic()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return (
        int(lines[0].split()[1]),
        {k.lower(): v for k, v in headers.items()},
        json.loads(body),
        closed,
    )


def test_a_client_that_half_closes_after_its_request_reads_the_answer(server):
    """`printf 'GET … ' | nc -N`: the end of file arrives with the request, and the answer the
    server holds until its loop's turn ends (entrypoints/joined_writes.py) is still written."""
    port, _ = server
    for _ in range(5):
        sock = connect(port)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: hub\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        status, _, body, _ = read_answer(sock)
        sock.close()
        assert status == 200, body


def test_a_head_over_the_limit_is_refused_431_and_the_connection_closed(server):
    port, _ = server
    for size in (
        9000,
        2_000_000,
    ):  # over the limit, and far over (httptools buffers a header it has not finished)
        sock = connect(port)
        # The server may answer and close before taking it all: what is asked.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(
                b"GET /health HTTP/1.1\r\nHost: hub\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
            )
        try:
            status, headers, body, _ = read_answer(sock)
        except (
            ConnectionResetError
        ):  # the answer can be lost when the server closes with data unread
            assert size > 9000
        else:
            assert (
                status == 431
                and body["code"] == "headers_too_large"
                and headers["connection"] == "close"
            )
        sock.close()
    assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
    # Under the limit, the same request is served.
    assert (
        httpx.get(f"http://127.0.0.1:{port}/health", headers={"X-Big": "a" * 6000}).status_code
        == 200
    )


@pytest.mark.parametrize(
    "head",
    [
        b"GET /health HTTP/1.1\r\nHost: hub\r\nBad Header\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: hub\r\nX-A: a\x00b\r\n\r\n",
        b"POST /health HTTP/1.1\r\nHost: hub\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"POST /health HTTP/1.1\r\nHost: hub\r\nContent-Length: 1\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ],
    ids=["no-colon", "nul-in-value", "two-lengths", "length-and-chunked"],
)
def test_what_the_http_parser_cannot_read_is_refused_in_our_format(server, head):
    port, _ = server
    sock = connect(port)
    sock.sendall(head)
    status, headers, body, _ = read_answer(sock)
    sock.close()
    assert (status, body["code"], headers["x-road-error"]) == (
        400,
        "malformed_request",
        "malformed_request",
    )
    assert body["request_id"] == headers["x-request-id"] and body["message"]


def test_a_head_that_trickles_is_cut_off_with_408(server):
    port, _ = server
    sock = connect(port)
    started = time.monotonic()
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: hub\r\n")
    try:
        for _ in range(30):  # a byte every 0.2 s: each would reset a timer that waits between reads
            sock.sendall(b"X")
            time.sleep(0.2)
    except (BrokenPipeError, ConnectionResetError):
        pass
    status, headers, body, closed = read_answer(sock)
    assert (
        status == 408
        and body["code"] == "request_timeout"
        and headers["x-request-id"] == body["request_id"]
    )
    assert closed - started < 3


def test_a_connection_that_sends_nothing_is_closed(server):
    port, _ = server
    sock = connect(port)
    started = time.monotonic()
    status, _, body, closed = read_answer(sock)
    assert status == 408 and body["code"] == "request_timeout" and closed - started < 3


def test_a_body_that_trickles_is_refused_408_audited_and_the_connection_closed(server):
    port, store_url = server
    sock = connect(port)
    started = time.monotonic()
    sock.sendall(
        b"POST /oauth/token HTTP/1.1\r\nHost: hub\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 100\r\n\r\ngrant_type"
    )
    try:
        for _ in range(30):
            sock.sendall(b"x")
            time.sleep(0.2)
    except (BrokenPipeError, ConnectionResetError):
        pass
    status, headers, body, closed = read_answer(sock)
    assert status == 408 and body["code"] == "request_timeout" and headers["connection"] == "close"
    assert closed - started < 3

    async def audited() -> list[AuditRecord]:
        store = await open_store(store_url)
        try:
            return [AuditRecord.from_canonical(raw) for _, raw in await store.audit.read(0, 1000)]
        finally:
            await store.close()

    [record] = [r for r in asyncio.run(audited()) if r.request_id == body["request_id"]]
    assert record.outcome == "request_timeout" and record.action == "POST /oauth/token"


def test_a_body_still_trickling_after_its_answer_is_cut_off(server):
    port, _ = server
    sock = connect(port)
    sock.sendall(
        b"POST /v1/exchange/person.identity HTTP/1.1\r\nHost: hub\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )  # no token: refused before the body is read
    answered = None
    data = b""
    started = time.monotonic()
    try:
        while time.monotonic() - started < 5:
            sock.sendall(b" ")
            sock.settimeout(0.2)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            data += chunk
            answered = answered or time.monotonic()
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert data.startswith(b"HTTP/1.1 401")
    assert time.monotonic() - answered < 3  # closed within the body timeout (1 s) of the answer


def test_crossroads_serve_refuses_demo_mode(tmp_path):
    env = {
        **os.environ,
        "CROSSROADS_DEMO": "true",
        "CROSSROADS_DATA_DIR": str(tmp_path),
        "CROSSROADS_STORE_URL": f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        "CROSSROADS_PORT": str(free_port_block(1)),
    }
    served = subprocess.run([*CLI, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert served.returncode == 2
    assert "development identity provider" in served.stderr and "crossroads demo" in served.stderr
    imported = subprocess.run(
        [sys.executable, "-c", "import crossroads.entrypoints.api.asgi"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode != 0 and "CROSSROADS_DEMO" in imported.stderr


@pytest.mark.anyio
async def test_service_names_from_the_url_never_grow_the_metrics(tmp_path, store_url):
    demo = await start_demo_hub(tmp_path, store_url)
    try:
        token = await demo.token(demo.welfare)
        headers = {"Authorization": f"Bearer {token}"}
        body = {"subject": demo.held_by("welfare")[0], "purpose": "SOCIAL_INTEGRATION"}
        assert (
            await demo.http.post("/v1/exchange/person.identity", json=body, headers=headers)
        ).status_code == 200
        before = (await demo.http.get("/metrics")).text
        for i in range(600):  # more names than any limit, long ones and plausible ones
            name = f"junk-{i}-" + "x" * (4000 if i % 2 else 10)
            assert (
                await demo.http.post(f"/v1/exchange/{name}", json=body, headers=headers)
            ).status_code == 404
        assert (
            await demo.http.post("/v1/exchange/person.identity", json=body, headers=headers)
        ).status_code == 200
        after = (await demo.http.get("/metrics")).text
        assert "junk" not in after and len(after) - len(before) < 5_000
        assert 'service="unknown"' in after

        def ok_count(text: str) -> float:
            line = next(
                line
                for line in text.splitlines()
                if line.startswith(
                    'crossroads_exchanges_total{outcome="ok",service="person.identity"}'
                )
            )
            return float(line.split()[-1])

        assert (
            ok_count(after) == ok_count(before) + 1
        )  # real services still count under their own names
    finally:
        await demo.http.aclose()
        await demo.hub.close()
