"""uvicorn's httptools protocol with the bounds it lacks: how large a request's head may be, how
long it may take to arrive, and how long a body the hub already answered may keep trickling in.

uvicorn bounds the head only with its h11 protocol (`h11_max_incomplete_event_size`); the hub runs
httptools, which is much faster on the exchange, and which accepted a 32 MB header and a
connection that sent its head one byte at a time, forever. These refusals happen before the hub
has a request to hand to its application, so they are written here, in the hub's error format
(`{code, message, request_id}`), logged, and not audited: nothing reached the hub to audit. A
body the application reads is bounded by `BodyLimit` (entrypoints/api/app.py), which answers
`request_timeout` through the application, audited.

uvicorn makes one protocol object per connection from this class; the bounds are class
attributes, set once per process by whoever starts the server (`configure`): the ASGI module for
`crossroads serve` (each worker reads its own settings), `crossroads demo` for its hub.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..config import Settings
from ..domain.errors import Refusal
from .joined_writes import JoinedWrites

_REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
}


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes = 32_768
    head_seconds = 10.0
    linger_seconds = 60.0

    @classmethod
    def configure(cls, settings: Settings) -> None:
        cls.max_head_bytes = settings.max_header_bytes
        cls.head_seconds = settings.header_timeout_seconds
        cls.linger_seconds = settings.body_timeout_seconds

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = (
            True  # from a request's first byte (or the connection's start) to its last header
        )
        self._head_read = (
            0  # bytes of reads that ended inside the head (bounds memory while it comes)
        )
        self._head_parsed = 0  # bytes of the request line and headers, as parsed (the exact size)
        self._timer: asyncio.TimerHandle | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # An answer's head and body in one write (entrypoints/joined_writes.py).
        super().connection_made(JoinedWrites(transport, self.loop))  # type: ignore[arg-type]
        self._arm(self.head_seconds, self._head_too_slow)

    def eof_received(self) -> None:
        # The client's end of file closes the transport once this returns: the answer a turn
        # holds goes first (entrypoints/joined_writes.py).
        self.transport.flush()  # type: ignore[attr-defined]
        super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.transport.lost()  # type: ignore[attr-defined]
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        # The websocket protocol takes the connection over with its own `eof_received`, which
        # would not write what this one's turn holds: it gets the transport itself.
        self.transport = self.transport.release()  # type: ignore[attr-defined]
        super().handle_websocket_upgrade()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self._in_head and not self._refused:
            # httptools keeps a header it has not finished in its own buffer, out of the
            # callbacks' sight: count what was read while the head is incomplete.
            self._head_read += len(data)
            if self._head_read > self.max_head_bytes:
                self._refuse(
                    Refusal(
                        "headers_too_large",
                        f"the request's head exceeds {self.max_head_bytes} bytes.",
                    )
                )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_read, self._head_parsed = True, 0, 0
        if self._timer is None:
            self._arm(self.head_seconds, self._head_too_slow)

    def on_url(self, url: bytes) -> None:
        if not self._refused:
            self._head_parsed += len(url)
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._refused:
            self._head_parsed += len(name) + len(value) + 4
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._in_head = False
        self._disarm()
        if self._head_parsed > self.max_head_bytes:
            self._refuse(
                Refusal(
                    "headers_too_large", f"the request's head exceeds {self.max_head_bytes} bytes."
                )
            )
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        cycle = (
            self.cycle
        )  # the latest request read: the one answered, unless others are pipelined behind it
        if (
            cycle is not None
            and cycle.response_complete
            and cycle.more_body
            and not self.transport.is_closing()
        ):
            # Answered before the whole body came (a refusal that did not need it): the rest may
            # still arrive, for a bounded time, so that the client reads the answer in peace.
            self._arm(self.linger_seconds, self.transport.close)

    def send_400_response(self, msg: str) -> None:
        """What the HTTP parser cannot read (a header line without a colon, a NUL in a value,
        two Content-Length, Content-Length with Transfer-Encoding): uvicorn answers it in plain
        text; the hub answers in its own format, like any refusal."""
        self._refuse(
            Refusal(
                "malformed_request",
                "the request is not valid HTTP/1.1 (its request line or a header cannot be"
                " read, or its length is given twice or two ways).",
            )
        )

    def _head_too_slow(self) -> None:
        self._timer = None
        if self._in_head and not self._refused:
            self._refuse(
                Refusal(
                    "request_timeout",
                    f"the request's head did not arrive within {self.head_seconds:g} s.",
                )
            )

    def _arm(self, seconds: float, then: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, then)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _refuse(self, refusal: Refusal) -> None:
        """Answer in the hub's error format and close: the rest of this connection is not read."""
        self._refused = True
        self._disarm()
        request_id = str(uuid.uuid4())
        body = orjson.dumps({**refusal.to_dict(), "request_id": request_id})
        self.logger.warning("%s from %s (request %s)", refusal.message, self.client, request_id)
        head = (
            f"HTTP/1.1 {refusal.status} ".encode() + _REASONS[refusal.status] + b"\r\n"
            b"content-type: application/json\r\ncontent-length: "
            + str(len(body)).encode()
            + b"\r\n"
            b"connection: close\r\nx-request-id: " + request_id.encode() + b"\r\n"
            b"x-road-error: " + refusal.code.encode() + b"\r\n\r\n"
        )
        if not self.transport.is_closing():
            self.transport.write(head + body)
            self.transport.close()
