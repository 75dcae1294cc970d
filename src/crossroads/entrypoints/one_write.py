"""An answer of known length leaves in one write: its head joined to its first body part.

uvicorn's request cycle writes an answer's status line and headers, then its body, in two
`transport.write` calls, and uvloop sends each at once: two system calls per answer, which a
profile of `crossroads bench exchange` put at 6-7 % of a worker's event-loop samples
(docs/benchmarks.md). The hub's protocol (entrypoints/bounded_http.py) gives each request cycle
this transport instead, which holds the head of an answer that has a Content-Length until the
cycle writes the body, and then writes both as one.

Only such answers: a chunked one (a stream whose parts may come much later) and one without a
body (204, 304) have their head written at once, and so is anything written before the answer
starts (`100 Continue`). A cycle that closes the connection with a head held (uvicorn does when
the application fails after starting its answer) closes it without the head: the client sees a
closed connection rather than the start of an answer that never ends.
"""

from __future__ import annotations

import asyncio
from typing import Any


class OneWriteTransport:
    """The connection's transport as one request cycle sees it (uvicorn's `RequestResponseCycle`,
    read through `cycle`): every call passes through but the head of a sized answer, which waits
    for the next write."""

    __slots__ = ("_transport", "_cycle", "_head", "_done")

    def __init__(self, transport: asyncio.Transport, cycle: Any) -> None:
        self._transport = transport
        self._cycle = cycle
        self._head: bytes | None = None
        self._done = False  # the head has gone (joined or on its own): nothing more to hold

    def write(self, data: bytes) -> None:
        if self._done:
            self._transport.write(data)
        elif self._head is not None:
            self._done = True
            self._transport.write(self._head + data)
            self._head = None
        elif self._cycle.response_started:
            # The cycle writes the head right after deciding how the body is framed: False is
            # a Content-Length, so a body write follows at once.
            if self._cycle.chunked_encoding is False:
                self._head = data
            else:
                self._done = True
                self._transport.write(data)
        else:
            self._transport.write(data)  # before the answer: `100 Continue`

    def close(self) -> None:
        self._head = None
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
