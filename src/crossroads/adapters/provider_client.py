"""Calls to webhooks: a pooled aiohttp session per hub process, with connect and read timeouts.
(Providers are called through http1_client.py, with the same bounds at a lower cost a call.)

The server at the other end is a member's (an authentic source, a subscriber's webhook), and may
answer as slowly as it likes; two bounds keep that its own business. A call ends within connect +
read seconds whatever the server does: aiohttp's read timeout alone restarts with each chunk, so
an answer sent a byte at a time held a call, and its connection, for ever. And one host holds at
most `per_host` of the pool's connections: without that bound, a source or webhook that kept the
calls it was sent waiting took every connection, and every other member's call waited for one
until it failed.

Providers sit at addresses the operator registered, often on an internal network. Webhooks sit at
addresses members wrote, so their client (`public_only`) connects only to public addresses: the
check is made on the addresses a name resolves to when connecting, not on the name when it was
registered, so a name that later resolves inside (DNS rebinding) is refused too.
"""

from __future__ import annotations

import abc
import logging
import socket
import ssl
import warnings
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from ..domain.errors import Refusal
from ..domain.webhooks import is_internal_address
from ..services.ports import ProviderClient, ProviderReply
from .tracing import failed, outgoing

# How long a connection given up on waits for the peer to confirm its TLS close before it is
# aborted (asyncio's own default: 30 s).
TLS_CLOSE_GRACE_SECONDS = 0.1

# What a client reads of an answer unless told (CROSSROADS_PROVIDER_MAX_ANSWER_BYTES).
MAX_PROVIDER_BODY = 16 * 1024 * 1024
log = logging.getLogger("crossroads.providers")


class PublicOnlyResolver(AbstractResolver):
    """Resolves as usual, then drops every internal address; no address left is a failure to
    resolve."""

    def __init__(self) -> None:
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = [
            r
            for r in await self._resolver.resolve(host, port, family)
            if not is_internal_address(r["host"])
        ]
        if not found:
            raise OSError(
                f"{host} resolves only to internal addresses, which webhooks may not reach"
            )
        return found

    async def close(self) -> None:
        await self._resolver.close()


class OutboundClient(ProviderClient):
    """A client whose each call is a span when tracing is on (adapters/tracing.py), named
    `span_name`, carrying the trace context to the peer; `_post` makes the call itself."""

    def __init__(self, span_name: str) -> None:
        self._span_name = span_name

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> ProviderReply:
        sent = dict(headers)  # the trace context is added to a copy, never to the caller's
        with outgoing(self._span_name, url, sent) as span:
            try:
                reply = await self._post(url, body, sent)
            except Refusal as refusal:
                failed(span, refusal.code)
                raise
            if span is not None:
                span.set_attribute("http.response.status_code", reply.status)
                if reply.status >= 400:
                    failed(span, f"HTTP {reply.status}")
            return reply

    @abc.abstractmethod
    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> ProviderReply: ...


class AiohttpProviderClient(OutboundClient):
    """The webhooks' client (and any caller that needs `public_only`); providers are called
    through http1_client.Http1ProviderClient, which costs less a call."""

    def __init__(
        self,
        connect_timeout: float,
        read_timeout: float,
        pool_size: int,
        public_only: bool = False,
        per_host: int | None = None,
        tls: ssl.SSLContext | None = None,
        span_name: str = "provider call",
        max_bytes: int = MAX_PROVIDER_BODY,
    ) -> None:
        """`span_name`: the name of each call's span when tracing is on (adapters/tracing.py).
        `max_bytes`: the largest answer read (larger: `invalid_provider_response`, unread).
        `per_host`: most connections to one host (default: half the pool, at least one); a call
        waiting for one counts that wait against its connect timeout."""
        super().__init__(span_name)
        # True: aiohttp's default context (the system's trust store, no client certificate).
        self._tls: ssl.SSLContext | bool = tls if tls is not None else True
        self._timeout = aiohttp.ClientTimeout(
            total=connect_timeout + read_timeout, connect=connect_timeout, sock_read=read_timeout
        )
        self._pool_size = pool_size
        self._max_bytes = max_bytes
        self._per_host = min(pool_size, per_host or max(1, pool_size // 2))
        self._public_only = public_only
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Created lazily inside the running event loop (aiohttp binds a session to its loop).
        if self._session is None or self._session.closed:
            with warnings.catch_warnings():
                # aiohttp marks the setting deprecated (for 4.0) yet still closes a connection
                # it gives up on (a timeout, a refused answer) gracefully without it: asyncio
                # then waits up to 30 s for the peer's TLS close_notify, and a webhook receiver
                # that never sends one keeps the hub's connection, and a file descriptor, open
                # outside the pool's count that long. With it the wait is this grace, then an
                # abort (tests/integration/test_outbound_tls.py).
                warnings.simplefilter("ignore", DeprecationWarning)
                connector = aiohttp.TCPConnector(
                    limit=self._pool_size,
                    limit_per_host=self._per_host,
                    ttl_dns_cache=300,
                    ssl=self._tls,
                    resolver=PublicOnlyResolver() if self._public_only else None,
                    ssl_shutdown_timeout=TLS_CLOSE_GRACE_SECONDS,
                )
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, connector=connector, auto_decompress=True
            )
        return self._session

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> ProviderReply:
        # aiohttp connects to an address literal without asking the resolver: judged here.
        if self._public_only and is_internal_address(urlsplit(url).hostname or ""):
            raise Refusal(
                "webhook_not_allowed",
                f"{_host(url)} is an internal address, which webhooks may not reach.",
            )
        try:
            async with self._get_session().post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                if response.content_length and response.content_length > self._max_bytes:
                    raise too_large(self._max_bytes)
                data = await _read_at_most(response.content, self._max_bytes + 1)
                if len(data) > self._max_bytes:
                    raise too_large(self._max_bytes)
                return ProviderReply(
                    response.status, data, response.headers.get("Content-Type", "")
                )
        # Providers' addresses are often internal: the caller is told what failed, the operator's
        # log where (the exception's text names host and port, and the resolver's or TLS's reason).
        except TimeoutError:
            log.warning("no answer in time from %s", _host(url))
            raise Refusal("provider_timeout", "the provider did not answer in time.") from None
        except aiohttp.ClientError as exc:
            log.warning("could not reach %s: %s: %s", _host(url), exc.__class__.__name__, exc)
            raise Refusal(
                "provider_unavailable", f"the provider could not be reached ({_kind(exc)})."
            ) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def too_large(max_bytes: int) -> Refusal:
    return Refusal(
        "invalid_provider_response",
        f"the provider's answer is larger than the hub accepts ({max_bytes:,} bytes, "
        "CROSSROADS_PROVIDER_MAX_ANSWER_BYTES).",
    )


async def _read_at_most(content: aiohttp.StreamReader, limit: int) -> bytes:
    """The body up to its end or `limit` bytes, whichever comes first. (`read(n)` alone returns
    what has arrived so far, up to n: the first chunk of an answer sent in several.)"""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _kind(exc: aiohttp.ClientError) -> str:
    """What failed, in words that name no address."""
    if isinstance(exc, (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch)):
        return "TLS failed"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "its name did not resolve"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connection failed"
    return "the connection broke"


def _host(url: str) -> str:
    return url.split("/")[2] if url.count("/") >= 2 else url
