"""A TCP proxy in the test process, between the hub and PostgreSQL, that a test can cut.

It fakes what lies outside the hub's process, the network: `cut()` resets every connection and
refuses new ones (a server that went away), `silence()` keeps the connections open but passes
nothing either way (a network that drops packets), `mend()` passes traffic again.
"""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._open = asyncio.Event()
        self._open.set()
        self._refusing = False
        self._handlers: set[asyncio.Task] = set()
        self.port = 0

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, dsn: str) -> str:
        """`dsn` (postgresql://user@host:port/db) with this proxy's address instead."""
        scheme, rest = dsn.split("://", 1)
        user, _, hostpath = rest.rpartition("@")
        path = hostpath.split("/", 1)[1]
        return f"{scheme}://{user + '@' if user else ''}127.0.0.1:{self.port}/{path}"

    def cut(self) -> None:
        self._refusing = True
        for writer in list(self._writers):
            writer.transport.abort()

    def silence(self) -> None:
        self._open.clear()

    def mend(self) -> None:
        self._refusing = False
        self._open.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        if self._refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            await self._open.wait()
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()
