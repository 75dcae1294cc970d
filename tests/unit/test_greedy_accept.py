"""The hub's event loop accepts every connection waiting on a socket it is given at once."""

from __future__ import annotations

import asyncio
import socket
from typing import ClassVar

import uvloop

from crossroads.entrypoints.greedy_accept import (
    AcceptingServer,
    GreedyAcceptLoop,
    waiting_connections,
)

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


def test_the_accept_queue_length_is_read_from_the_listening_socket():
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(64)
    clients = [socket.create_connection(listening.getsockname()) for _ in range(5)]
    try:
        assert waiting_connections(listening) == 5
        listening.accept()[0].close()
        assert waiting_connections(listening) == 4
    finally:
        for client in clients:
            client.close()
        listening.close()


def test_workers_sharing_a_socket_each_take_their_share_of_the_waiting_connections():
    """Two workers woken by 8 connections: the first to run takes 4, not all 8 (with all 8, one
    worker served the exchange bench alone while the other idled)."""
    loop = uvloop.new_event_loop()
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    Counted.made = []
    server = AcceptingServer(loop, Counted, listening, 64, share=2)
    clients = [socket.create_connection(listening.getsockname()) for _ in range(8)]
    try:
        server._accept()  # one readiness of this worker: accept() ran 4 times
        assert waiting_connections(listening) == 4  # left for the other worker
        server._accept()  # the other did not come: the next turn takes half of what is left
        assert waiting_connections(listening) == 2
        server.close()
        loop.run_until_complete(asyncio.sleep(0.05))  # the accepted ones are handed to uvloop
        assert len(Counted.made) == 6
    finally:
        for transport in Counted.made:
            transport.close()
        server.close()
        for client in clients:
            client.close()
        listening.close()
        loop.close()
