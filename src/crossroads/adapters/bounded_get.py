"""One GET of a small document from another party's server (a peer hub's federation document or
key history, the hub's key history for a witness), bounded in time and in size whatever that
server does.

urllib's timeout bounds each socket operation, not the fetch: a server sending a byte every few
seconds, in its headers or its body, held a fetch for hours, and with it the thread it ran on
(one of the few of the default executor, which the hub's SQLite store shares with every member's
requests). Here the whole exchange, from connecting to the last byte, runs under one deadline,
on the event loop rather than in a thread.
"""

from __future__ import annotations

import asyncio
import ssl
from concurrent.futures import ThreadPoolExecutor

import httpx


async def get_bounded(
    url: str, seconds: float, max_bytes: int, tls: ssl.SSLContext | None = None
) -> bytes:
    """The body of the answer to GET `url`, read to its end within `seconds` in all (connecting,
    redirects, headers and body). Raises TimeoutError past the deadline, ValueError when the body
    goes beyond `max_bytes` (nothing further is read), httpx.HTTPError for an error status or a
    broken connection."""
    async with (
        asyncio.timeout(seconds),
        httpx.AsyncClient(
            timeout=seconds, verify=tls if tls is not None else True, follow_redirects=True
        ) as client,
    ):
        answer, body = await send_bounded(client, client.build_request("GET", url), max_bytes)
        answer.raise_for_status()
        return body


async def send_bounded(
    client: httpx.AsyncClient, request: httpx.Request, max_bytes: int
) -> tuple[httpx.Response, bytes]:
    """The answer to `request` and its body, read to its end; ValueError when the body goes
    beyond `max_bytes` (nothing further is read). Bounds no time: the caller runs it under its
    deadline."""
    # identity: a compressed answer would be inflated chunk by chunk before it is counted.
    request.headers["Accept-Encoding"] = "identity"
    answer = await client.send(request, stream=True)
    try:
        body = bytearray()
        async for chunk in answer.aiter_raw():
            body += chunk
            if len(body) > max_bytes:
                raise ValueError(f"{request.url} answered more than {max_bytes} bytes")
        return answer, bytes(body)
    finally:
        await answer.aclose()


class BoundedTransport(httpx.AsyncBaseTransport):
    """A transport that reads each answer's body whole, at most `max_bytes`, before handing it on:
    for a client a library drives (Authlib's, for OpenID Connect), whose reads cannot be bounded
    where they are made. Past the cap it raises httpx.ReadError (an httpx.HTTPError, as any
    broken answer) naming the cap; nothing further is read. Bounds no time, like `send_bounded`.
    """

    def __init__(self, max_bytes: int, inner: httpx.AsyncBaseTransport | None = None) -> None:
        """`inner` sends each request (by default, as a client with no transport of its own
        would: through the proxy the environment names for its address, HTTPS_PROXY, NO_PROXY…;
        httpx uses the environment's proxies only for a client given no transport)."""
        self._max_bytes = max_bytes
        self._inner = inner or _EnvironmentTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["Accept-Encoding"] = "identity"  # counted as sent, not once inflated
        answer = await self._inner.handle_async_request(request)
        body = bytearray()
        try:
            async for chunk in answer.aiter_raw():
                body += chunk
                if len(body) > self._max_bytes:
                    raise httpx.ReadError(
                        f"{request.url} answered more than {self._max_bytes} bytes", request=request
                    )
        finally:
            await answer.aclose()
        # A server that encoded its answer anyway is not decoded: it is refused as not JSON.
        kept = [
            (name, value)
            for name, value in answer.headers.raw
            if name.lower() not in (b"content-encoding", b"content-length", b"transfer-encoding")
        ]
        return httpx.Response(
            answer.status_code, headers=kept, content=bytes(body), extensions=answer.extensions
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def get_bounded_blocking(
    url: str, seconds: float, max_bytes: int, tls: ssl.SSLContext | None = None
) -> bytes:
    """`get_bounded` for a synchronous caller, on an event loop of its own in a thread of its own
    (so a caller already inside a running loop may use it too); same deadline, same errors."""
    with ThreadPoolExecutor(1, thread_name_prefix="bounded-get") as pool:
        return pool.submit(asyncio.run, get_bounded(url, seconds, max_bytes, tls)).result()


class _EnvironmentTransport(httpx.AsyncBaseTransport):
    """Sends through a client of its own that reads the proxies from the environment, as every
    client without a transport of its own does. Closed, it opens a new one at the next request:
    Authlib makes a client for each exchange with the issuer, all with this one transport, and
    closes each when done (which closes the transport)."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._client is None:
            self._client = httpx.AsyncClient(trust_env=True)
        return await self._client.send(request, stream=True)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
