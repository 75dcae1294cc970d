"""The hub's two outbound clients (providers': http1_client; webhooks': aiohttp) against real
misbehaving peers on loopback."""

from __future__ import annotations

import asyncio

import pytest

from crossroads.adapters.http1_client import Http1ProviderClient
from crossroads.adapters.provider_client import AiohttpProviderClient
from crossroads.demo.launch import free_port_block
from crossroads.domain.errors import Refusal

pytestmark = pytest.mark.anyio
CLIENTS = pytest.mark.parametrize("made", [Http1ProviderClient, AiohttpProviderClient])


async def serve(handler) -> tuple[asyncio.base_events.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/services/x/1"


@CLIENTS
async def test_answers_timeouts_and_refusals(made):
    client = made(connect_timeout=1, read_timeout=0.3, pool_size=4)

    async def silent(reader, writer):
        await asyncio.sleep(2)
        writer.close()

    async def teapot(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 418 I'm a teapot\r\nContent-Length: 2\r\n\r\nno")
        await writer.drain()
        writer.close()

    try:
        server, url = await serve(silent)
        async with server:
            with pytest.raises(Refusal) as refused:
                await client.post(url, b"{}", {})
            assert refused.value.code == "provider_timeout"
        server, url = await serve(teapot)
        async with server:
            reply = await client.post(url, b"{}", {})
            assert (reply.status, reply.body) == (418, b"no")
        closed = f"http://127.0.0.1:{free_port_block(1)}/nothing"
        with pytest.raises(Refusal) as refused:
            await client.post(closed, b"{}", {})
        assert refused.value.code == "provider_unavailable"
    finally:
        await client.close()


@CLIENTS
async def test_an_answer_past_the_configured_size_is_refused_unread(made):
    """CROSSROADS_PROVIDER_MAX_ANSWER_BYTES: announced or not, a larger answer is refused."""
    client = made(1, 2, 4, max_bytes=4096)

    def answering(size: int, announced: bool):
        async def answer(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            length = b"Content-Length: %d\r\n" % size if announced else b"Connection: close\r\n"
            writer.write(b"HTTP/1.1 200 OK\r\n" + length + b"\r\n" + b"x" * size)
            await writer.drain()
            writer.close()

        return answer

    try:
        for size, announced in [(5000, True), (5000, False), (4096, False)]:
            server, url = await serve(answering(size, announced))
            async with server:
                if size <= 4096:
                    assert len((await client.post(url, b"{}", {})).body) == size
                    continue
                with pytest.raises(Refusal) as refused:
                    await client.post(url, b"{}", {})
                assert refused.value.code == "invalid_provider_response"
                assert "4,096 bytes" in refused.value.message
    finally:
        await client.close()


def test_the_answer_cap_is_a_setting(tmp_path, monkeypatch):
    from crossroads.config import Settings

    monkeypatch.setenv("CROSSROADS_PROVIDER_MAX_ANSWER_BYTES", "65536")
    assert Settings(data_dir=tmp_path).provider_max_answer_bytes == 65536
