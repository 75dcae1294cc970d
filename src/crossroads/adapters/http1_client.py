"""Calls to providers: HTTP/1.1 POSTs over pooled keep-alive connections on the event loop's own
transports, the answers parsed by httptools (llhttp, the parser uvicorn runs).

Why not aiohttp, which the webhooks' client keeps (provider_client.py): the exchange makes one
provider call a request, and aiohttp's client spent about 100 µs of CPU on each (its request and
response objects, cookie jar, redirect and trace hooks, payload and writer layers): a sixth of the
hub's CPU a request on the exchange's benchmark (docs/benchmarks.md). httpx costs more; pyreqwest
cannot trust a provider CA bundle *instead of* the system's store. This client does only what a
call to a provider needs, with the same bounds as the webhooks' client:

- a call ends within connect + read seconds whatever the server does, and a server silent for the
  read timeout ends it sooner (`provider_timeout`);
- waiting for a connection counts against the connect timeout; the pool holds at most `pool_size`
  calls at once, and one host at most `per_host` of them;
- an answer larger than `max_bytes`, announced or not, is refused unread
  (`invalid_provider_response`), its connection closed;
- an answer's status line and headers take at most MAX_HEAD bytes (`invalid_provider_response`);
- TLS with the context given (the provider CA bundle, a client certificate), checking the name.

Answers are read to their end (Content-Length, chunked, or the connection's close) before the
connection goes back to the pool; one that may not be reused (`Connection: close`, HTTP/1.0
without keep-alive, a second answer, an error mid-answer, a timeout, a cancelled call) is
aborted, not closed gracefully: a TLS peer that never confirms the close would keep it open
outside the pool's count. The client asks for no content coding (`Accept-Encoding: identity`) and
refuses an answer that comes coded anyway (a content coding, or a transfer coding other than
`chunked`). No call is retried: a POST that may have reached the provider is not sent twice.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
from collections import deque
from urllib.parse import quote, urlsplit

import httptools

from ..domain.errors import Refusal
from ..services.ports import ProviderReply
from .provider_client import MAX_PROVIDER_BODY, OutboundClient, too_large

log = logging.getLogger("crossroads.providers")

# An idle connection older than this is closed rather than reused: a server closes its own idle
# connections after a while, and one it closed as the call was written would fail the call.
IDLE_SECONDS = 15.0
# The most an answer's status line and headers may take (interim answers' included): httptools
# gathers a header's name and value by appending each piece, so a header sent without end would
# cost memory and CPU without bound (aiohttp's client stops a header line at 8 KiB).
MAX_HEAD = 64 * 1024
# Parsed targets kept (the providers' URLs are few; the bound keeps a stream of distinct URLs
# from growing the dictionary).
TARGETS_KEPT = 1024
_UNSAFE_VALUE = re.compile(r"[\r\n\0]")


class _Broken(Exception):
    """The connection failed before the answer was whole (a reset, a close, a malformed answer)."""


class _Target:
    """A URL as the client sends to it: its pool key, connection address, Host and request line."""

    __slots__ = ("head", "host", "key", "port", "tls")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url}")
        parts.hostname.encode("idna")  # a name no resolver could look up (a UnicodeError)
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.key = (self.tls, self.host, self.port)
        # Spaces, controls and non-ASCII percent-encoded, as aiohttp's URL did: nothing the
        # registry holds can break the request line.
        path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
        if parts.query:
            path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
        host = f"[{self.host}]" if ":" in self.host else self.host
        if parts.port is not None:
            host += f":{parts.port}"
        self.head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n".encode("ascii")


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one call on it at a time."""

    def __init__(self, pool: Http1ProviderClient, key: tuple, max_bytes: int) -> None:
        self._pool = pool
        self.key = key
        self._max_bytes = max_bytes
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.last_data = 0.0
        self._answer: asyncio.Future | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()

    # asyncio.Protocol

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():
            self.close()  # bytes nobody asked for: the connection cannot be trusted again
            return
        self.last_data = self._loop.time()
        if not self._head_done:
            room = MAX_HEAD - self._head_seen
            if len(data) > room:  # fed up to the bound: the head must end within it
                self._feed(data[:room])
                if self.closed:
                    return
                if not self._head_done:
                    self._fail(
                        Refusal(
                            "invalid_provider_response",
                            f"the provider's answer has more than {MAX_HEAD:,} bytes of headers.",
                        )
                    )
                    return
                data = data[room:]
            self._head_seen += len(data)
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            # (An upgrade, 101, is no answer to a POST the hub sent.)
            self._fail(_Broken(f"a malformed answer ({exc.__class__.__name__}: {exc})"))

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool._forget(self)
        if self._answer is not None and not self._answer.done():
            if exc is None and self._until_close and self._status:
                self._complete(keep=False)  # an answer delimited by the close, now whole
            else:
                self._fail(_Broken(str(exc) if exc else "the server closed the connection"))

    # httptools' callbacks

    def on_message_begin(self) -> None:
        if self._answer is not None and self._answer.done():
            self.close()  # a second answer to one request: what follows cannot be trusted

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._head_done:
            return  # a trailer: nothing in it changes the answer read
        name = name.lower()
        if name == b"content-type":
            self._content_type = value.decode("latin-1")
        elif name == b"content-length":
            self._length = value
        elif name == b"transfer-encoding":
            self._chunked = True
            if value.strip().lower() != b"chunked":
                self._coded = True
        elif name == b"content-encoding" and value.strip().lower() != b"identity":
            self._coded = True

    def on_headers_complete(self) -> None:
        self._head_done = True
        self._status = self._parser.get_status_code()
        if self._coded:
            self._fail(
                Refusal(
                    "invalid_provider_response",
                    "the provider's answer came coded, which the hub did not ask for.",
                )
            )
        elif self._length is not None and int(self._length) > self._max_bytes:
            self._fail(too_large(self._max_bytes))
        self._until_close = (
            self._length is None and not self._chunked and self._status >= 200
        ) and self._status not in (204, 304)

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self._max_bytes:
            self._fail(too_large(self._max_bytes))
        else:
            self._chunks.append(body)

    def on_message_complete(self) -> None:
        if self._status < 200:  # an interim answer (103 Early Hints): the final one follows
            self._chunks, self._size, self._content_type = [], 0, ""
            self._length, self._chunked, self._coded = None, False, False
            self._until_close = self._head_done = False
            return
        self._complete(keep=self._parser.should_keep_alive())

    # the call

    def send(self, request: bytes) -> asyncio.Future:
        """Write one request; the future gets the answer's `ProviderReply`, or an exception."""
        self._parser = httptools.HttpResponseParser(self)
        self._answer = self._loop.create_future()
        self._status = 0
        self._content_type = ""
        self._length: bytes | None = None
        self._chunked = self._coded = self._until_close = self._head_done = False
        self._head_seen = 0
        self._chunks: list[bytes] = []
        self._size = 0
        self._keep = False
        self.last_data = self._loop.time()
        assert self.transport is not None
        self.transport.write(request)
        return self._answer

    @property
    def reusable(self) -> bool:
        return self._keep and not self.closed

    def _complete(self, keep: bool) -> None:
        if self._answer is None or self._answer.done():
            return
        self._keep = keep
        body = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._answer.set_result(ProviderReply(self._status, body, self._content_type))

    def _fail(self, failure: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(failure)
        self.close()

    def close(self) -> None:
        self._keep = False
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.abort()
            self._pool._forget(self)

    def watch(self, deadline: float, read_timeout: float) -> None:
        """Time the call out at `deadline`, or after `read_timeout` of silence."""
        self._timer = self._loop.call_at(
            min(deadline, self._loop.time() + read_timeout),
            self.check_timeout,
            deadline,
            read_timeout,
        )

    def unwatch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def check_timeout(self, deadline: float, read_timeout: float) -> None:
        """Fail the call when the deadline passed or the server was silent for `read_timeout`;
        else look again when the earlier of the two may have come."""
        now = self._loop.time()
        silent_until = self.last_data + read_timeout
        if now >= deadline or now >= silent_until:
            self._fail(TimeoutError())
        elif self._answer is not None and not self._answer.done():
            self._timer = self._loop.call_at(
                min(deadline, silent_until), self.check_timeout, deadline, read_timeout
            )


class Http1ProviderClient(OutboundClient):
    """The provider client (ProviderClient): see the module's docstring for its bounds."""

    def __init__(
        self,
        connect_timeout: float,
        read_timeout: float,
        pool_size: int,
        per_host: int | None = None,
        tls: ssl.SSLContext | None = None,
        span_name: str = "provider call",
        max_bytes: int = MAX_PROVIDER_BODY,
    ) -> None:
        """As AiohttpProviderClient's (provider_client.py): `tls` None is the system's trust
        store without a client certificate; `per_host` defaults to half the pool, at least one."""
        super().__init__(span_name)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._limit = pool_size
        self._per_host = min(pool_size, per_host or max(1, pool_size // 2))
        self._tls = tls
        self._max_bytes = max_bytes
        self._targets: dict[str, _Target] = {}
        self._idle: dict[tuple, deque[_Connection]] = {}
        self._busy = 0
        self._busy_of: dict[tuple, int] = {}
        self._waiters: deque[tuple[tuple, asyncio.Future]] = deque()

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> ProviderReply:
        target = self._targets.get(url)
        if target is None:
            target = self._target(url)
        request = _request(target, body, headers)
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self._connect_timeout + self._read_timeout
        try:
            await self._take_slot(target.key, started + self._connect_timeout)
        except TimeoutError:
            log.warning("no connection free in time for %s", _host(target))
            raise Refusal("provider_timeout", "the provider did not answer in time.") from None
        connection: _Connection | None = None
        try:
            connection = self._idle_connection(target.key, loop.time())
            if connection is None:
                connection = await self._connect(target, started + self._connect_timeout)
            answer = connection.send(request)
            connection.watch(deadline, self._read_timeout)
            try:
                reply = await answer
            finally:
                connection.unwatch()
            if connection.reusable:
                connection.idle_since = loop.time()
                self._idle.setdefault(target.key, deque()).append(connection)
                connection = None
            return reply
        except TimeoutError:
            log.warning("no answer in time from %s", _host(target))
            raise Refusal("provider_timeout", "the provider did not answer in time.") from None
        except ssl.SSLError as exc:
            log.warning("could not reach %s: %s: %s", _host(target), exc.__class__.__name__, exc)
            raise Refusal("provider_unavailable", _unavailable("TLS failed")) from None
        except socket.gaierror as exc:
            log.warning("could not reach %s: %s: %s", _host(target), exc.__class__.__name__, exc)
            raise Refusal(
                "provider_unavailable", _unavailable("its name did not resolve")
            ) from None
        except _Broken as exc:
            log.warning("could not reach %s: the connection broke: %s", _host(target), exc)
            raise Refusal("provider_unavailable", _unavailable("the connection broke")) from None
        except OSError as exc:
            log.warning("could not reach %s: %s: %s", _host(target), exc.__class__.__name__, exc)
            raise Refusal("provider_unavailable", _unavailable("connection failed")) from None
        finally:
            if connection is not None:
                connection.close()  # not reusable, failed or cancelled mid-call
            self._give_slot(target.key)

    def _target(self, url: str) -> _Target:
        try:
            target = _Target(url)
        except ValueError:
            raise Refusal(
                "provider_unavailable", _unavailable("its address is not an http(s) URL")
            ) from None
        if len(self._targets) >= TARGETS_KEPT:
            self._targets.clear()
        self._targets[url] = target
        return target

    # The pool: slots bound the calls under way, idle connections wait for the next call.

    async def _take_slot(self, key: tuple, deadline: float) -> None:
        if self._busy < self._limit and self._busy_of.get(key, 0) < self._per_host:
            self._count(key, 1)
            return
        waiter = asyncio.get_running_loop().create_future()
        entry = (key, waiter)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout_at(deadline):
                await waiter  # resolved by _give_slot with the slot already counted as ours
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._give_slot(key)  # handed over just as the wait ended: passed on
            elif entry in self._waiters:
                self._waiters.remove(entry)
            raise

    def _give_slot(self, key: tuple) -> None:
        self._count(key, -1)
        for entry in list(self._waiters):
            waiting_key, waiter = entry
            if waiter.done():  # its call was cancelled or timed out: no longer waiting
                self._waiters.remove(entry)
            elif self._busy < self._limit and self._busy_of.get(waiting_key, 0) < self._per_host:
                self._waiters.remove(entry)
                self._count(waiting_key, 1)
                waiter.set_result(None)
                return

    def _count(self, key: tuple, step: int) -> None:
        self._busy += step
        left = self._busy_of.get(key, 0) + step
        if left:
            self._busy_of[key] = left
        else:
            del self._busy_of[key]

    def _idle_connection(self, key: tuple, now: float) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to be closed
            if not connection.closed and now - connection.idle_since < IDLE_SECONDS:
                return connection
            connection.close()
        return None

    def _forget(self, connection: _Connection) -> None:
        idle = self._idle.get(connection.key)
        if idle and connection in idle:
            idle.remove(connection)

    async def _connect(self, target: _Target, deadline: float) -> _Connection:
        loop = asyncio.get_running_loop()
        tls: ssl.SSLContext | None = None
        if target.tls:
            tls = self._tls if self._tls is not None else _system_context()
        async with asyncio.timeout_at(deadline):
            _, connection = await loop.create_connection(
                lambda: _Connection(self, target.key, self._max_bytes),
                target.host,
                target.port,
                ssl=tls,
                server_hostname=target.host if tls is not None else None,
            )
        return connection

    async def close(self) -> None:
        for idle in list(self._idle.values()):
            for connection in list(idle):
                connection.close()
        self._idle.clear()


def _request(target: _Target, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [target.head, b"Content-Length: %d\r\nAccept-Encoding: identity\r\n" % len(body)]
    for name, value in headers.items():
        if _UNSAFE_VALUE.search(name) or _UNSAFE_VALUE.search(value):
            raise ValueError(f"header {name!r} holds a line break")
        lines.append(f"{name}: {value}\r\n".encode("latin-1"))
    lines.append(b"\r\n")
    lines.append(body)
    return b"".join(lines)


_SYSTEM: list[ssl.SSLContext] = []


def _system_context() -> ssl.SSLContext:
    """The system's trust store, made once (loading it reads every CA certificate)."""
    if not _SYSTEM:
        _SYSTEM.append(ssl.create_default_context())
    return _SYSTEM[0]


def _unavailable(kind: str) -> str:
    return f"the provider could not be reached ({kind})."


def _host(target: _Target) -> str:
    return f"{target.host}:{target.port}"
