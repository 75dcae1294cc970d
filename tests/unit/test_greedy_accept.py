"""The hub's event loop accepts every connection waiting on a socket it is given at once."""

from __future__ import annotations

import asyncio
import socket
from typing import ClassVar

import uvloop

from crossroads.entrypoints.greedy_accept import AcceptingServer, GreedyAcceptLoop

WAITING = 30


class Counted(asyncio.Protocol):
    made: ClassVar[list[asyncio.BaseTransport]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        Counted.made.append(transport)


def accepted_in_a_few_turns(loop: asyncio.AbstractEventLoop) -> int:
    """Connect WAITING clients while the loop is not running, then let it take 3 turns."""
    Counted.made = []
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))  # bound, not listening: as uvicorn hands it over
    clients = []
    try:
        server = loop.run_until_complete(loop.create_server(Counted, sock=listening, backlog=64))
        for _ in range(WAITING):
            client = socket.create_connection(listening.getsockname())
            clients.append(client)
        for _ in range(3):
            loop.run_until_complete(asyncio.sleep(0))
        made = len(Counted.made)
        for transport in Counted.made:
            transport.close()
        server.close()
        loop.run_until_complete(server.wait_closed())
        return made
    finally:
        for client in clients:
            client.close()
        listening.close()
        loop.close()


def test_a_worker_accepts_every_waiting_connection_in_one_turn_where_uvloop_takes_one():
    assert accepted_in_a_few_turns(GreedyAcceptLoop()) == WAITING
    # What it replaces: libuv takes one connection a turn of the loop.
    assert accepted_in_a_few_turns(uvloop.new_event_loop()) < WAITING / 2


def test_a_server_made_from_a_host_and_port_is_uvloop_s_own():
    loop = GreedyAcceptLoop()
    try:
        server = loop.run_until_complete(loop.create_server(Counted, "127.0.0.1", 0))
        assert not isinstance(server, AcceptingServer) and server.sockets
        server.close()
    finally:
        loop.close()
