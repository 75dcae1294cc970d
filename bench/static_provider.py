"""A provider that costs next to nothing: answers every POST with one fixed identity, keep-alive.

The exchange benchmark puts it behind the hub (as one measures a proxy in front of a static
JSON file) so that the figure measures the hub, not a Python provider verifying signatures on
the same two cores (docs/benchmarks.md). It speaks just enough HTTP/1.1 for wrk and aiohttp: a
request line, headers, a Content-Length body. Written by hand because it must be cheaper than
any framework.

    python bench/static_provider.py PORT
"""

from __future__ import annotations

import asyncio
import sys

BODY = b'{"name":"Peeters","first_names":["Emma","Louis"],"birth_date":"1979-12-22","gender":"F","nationality":"BE","death_date":null}'
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + str(len(BODY)).encode()
            + b"\r\nConnection: keep-alive\r\n\r\n" + BODY)


class Static(asyncio.Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None]) if at >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            self.transport.write(RESPONSE)


async def main(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Static, "127.0.0.1", port, backlog=2048)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(int(sys.argv[1])))
