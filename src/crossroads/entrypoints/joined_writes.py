"""A connection's writes of one turn of the event loop, sent to the kernel as one.

uvicorn writes an answer in two calls, its head when the application starts the response and its
body after, each a `write` to the socket: on the exchange, two system calls and two TCP segments
for a few hundred bytes (the head's write was the answer's costliest line in py-spy's samples:
docs/benchmarks.md, "One write an answer"). Both calls come in the same turn of the loop (the
application's `send`s do not wait in between), so the hub's HTTP protocol hands uvicorn this
transport instead: it keeps what is written in a turn and writes it once, in order, when the
turn ends (`call_soon`), or at once when the connection is closed. Nothing waits longer than the
turn it was written in, so a response that streams, or a `100 Continue`, is not held back. Every
write of the connection goes through it, uvicorn's and the protocol's own refusals alike, so
their order is the order they were made in. What a turn holds past `HELD_BYTES` is written at
once, so that a response produced faster than it is read still meets the transport's flow
control (`pause_writing`) as it did before, rather than piling up here until the turn ends.

"When the turn ends" is after the loop's next poll of its sockets (uvloop runs what `call_soon`
adds in its next iteration), and what that poll reads can end the connection's turns. The
wrapper holds nothing once they cannot come: a write made while the transport is closing (its
close drains what it buffered) goes to it at once, as it did without the wrapper; a client's end
of file, which closes the transport once the protocol's `eof_received` returns, is preceded by a
`flush` there; a connection handed to a websocket protocol is handed over unwrapped (`release`);
and only a connection lost (`lost`, from the protocol's `connection_lost`) drops what was held,
which the transport would drop as well. A TLS transport is written to at once, never joined:
uvloop's TLS layer reads a peer's bare end of file (no `close_notify`) without telling the
protocol or marking the transport closing, and would drop what a turn still held.

Written here, not taken from a library: asyncio and uvloop have no "cork until the end of the
turn" (Node's `cork`/`uncork` on a stream does this job), and uvicorn's protocol offers no place
to join its two writes but the transport it is given.
"""

from __future__ import annotations

import asyncio
from typing import Any

HELD_BYTES = 65_536


class JoinedWrites:
    """Delegates to `transport`, except that the `write`s made in one turn of `loop` are joined
    and written when the turn ends. `close` and `write_eof` write what the turn held first;
    `abort` discards it, as it discards the transport's own buffer, and `lost` when the
    connection is lost. Once the transport is closing, and always on TLS, writes go to it at
    once."""

    __slots__ = ("_at_once", "_held", "_held_bytes", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._at_once = transport.get_extra_info("sslcontext") is not None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if self._at_once or self._transport.is_closing():  # as if unwrapped, in order
            self.flush()
            self._transport.write(data)
            return
        if not self._held:
            self._loop.call_soon(self.flush)
        # A caller may reuse a bytearray once `write` returns; bytes are kept as they are.
        kept = data if type(data) is bytes else bytes(data)
        self._held.append(kept)
        self._held_bytes += len(kept)
        if self._held_bytes >= HELD_BYTES:
            self.flush()

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Write what this turn holds now (one write; `writelines` for several parts, which
        uvloop sends in one `writev` without copying them into one buffer first)."""
        if not self._held:
            return
        held, self._held, self._held_bytes = self._held, [], 0
        if len(held) == 1:
            self._transport.write(held[0])
        else:
            self._transport.writelines(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def lost(self) -> None:
        """The connection is lost: what is held can no longer be written (the transport is
        closed, and would refuse it)."""
        self._held, self._held_bytes = [], 0

    def release(self) -> asyncio.Transport:
        """Write what is held and return the transport itself, for a protocol that takes the
        connection over and writes on its own (a websocket's)."""
        self.flush()
        return self._transport

    def abort(self) -> None:
        self.lost()
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._held_bytes

    # Called on every request and answer: explicit, rather than through __getattr__.
    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
