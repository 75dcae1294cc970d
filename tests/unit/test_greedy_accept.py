"""The hub's event loop accepts every connection waiting on a socket it is given at once."""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
from contextlib import contextmanager
from typing import ClassVar

import uvloop

from crossroads.entrypoints.greedy_accept import (
    HOLD_LIMIT_SECONDS,
    AcceptingServer,
    ConnectionCounts,
    GreedyAcceptLoop,
    waiting_connections,
)
from crossroads.entrypoints.supervisor import COUNTED_WORKERS

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


def _hold_open(slots, number: int, opened: int) -> None:  # in a spawned process
    from crossroads.entrypoints import greedy_accept

    greedy_accept.share_counts(slots, number)
    for _ in range(opened):
        greedy_accept._counts.opened()


def test_workers_see_each_other_s_open_connections_in_the_memory_the_supervisor_shares():
    """`crossroads serve` spawns its workers: the counts reach a spawned process and back."""
    context = multiprocessing.get_context("spawn")
    slots = context.RawArray("i", 1 + COUNTED_WORKERS)
    slots[0] = 2  # the supervisor's count of its workers
    worker = context.Process(target=_hold_open, args=(slots, 1, 3))
    worker.start()
    worker.join(timeout=30)
    assert worker.exitcode == 0
    mine = ConnectionCounts(slots, 0)
    mine.opened()
    assert list(slots[:3]) == [2, 1, 3] and mine.total() == 4 and mine.workers(5) == 2
    mine.closed()
    assert mine.total() == 3 and slots[1] == 0


@contextmanager
def worker_zero(holding: int, others: list[int], share: int = 2, running: int = 0):
    """Worker 0's server on a bound socket, holding `holding` connections, the other workers
    `others` (their slots), `running` workers by the supervisor's count (0: not said yet); yields
    the server, its counts, the socket and a function that connects a client. Closed after,
    every connection and client with it."""
    loop = uvloop.new_event_loop()
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    slots = multiprocessing.get_context("spawn").RawArray("i", 2 + len(others))
    slots[0] = running
    for number, held in enumerate(others, start=1):
        slots[1 + number] = held
    counts = ConnectionCounts(slots, 0)
    for _ in range(holding):
        counts.opened()
    Counted.made = []
    server = AcceptingServer(loop, Counted, listening, 64, share=share, counts=counts)
    clients: list[socket.socket] = []

    def connect(n: int = 1) -> None:
        clients.extend(socket.create_connection(listening.getsockname()) for _ in range(n))

    try:
        yield server, counts, listening, connect
    finally:
        server.close()
        loop.run_until_complete(asyncio.sleep(0.05))
        for transport in Counted.made:
            transport.close()
        for client in clients:
            client.close()
        listening.close()
        loop.close()


def test_a_worker_holding_its_fair_part_leaves_waiting_connections_to_the_others():
    """Worker 0 holds 10 connections, worker 1 none: 4 new ones are left to worker 1, and taken
    by worker 0 only once they have waited HOLD_LIMIT_SECONDS (worker 1 dead or stuck). With
    shares of the queue alone the portal's 50 users were split 18 and 32."""
    with worker_zero(10, [0]) as (server, counts, listening, connect):
        connect(4)
        server._accept()
        assert waiting_connections(listening) == 4  # left to worker 1
        loop = server.get_loop()
        loop.run_until_complete(asyncio.sleep(HOLD_LIMIT_SECONDS + 0.01))
        server._accept()  # nobody took them: this worker does
        assert waiting_connections(listening) == 0
        assert counts.mine == 14 and counts.total() == 14
        loop.run_until_complete(asyncio.sleep(0.05))
        assert len(Counted.made) == 4
        for transport in Counted.made:  # each connection's end is counted
            transport.close()
        loop.run_until_complete(asyncio.sleep(0.05))
        assert counts.mine == 10


def test_a_worker_below_its_fair_part_takes_only_up_to_it():
    """Worker 1 holds 6, worker 0 holds 2, 6 wait: worker 0's fair part is 7 of the 14, so it
    takes 3 (not the half of the queue it took before) and leaves 3 to worker 1."""
    with worker_zero(2, [6]) as (server, counts, listening, connect):
        connect(6)
        server._accept()
        assert waiting_connections(listening) == 3
        assert counts.mine == 5


def test_a_hold_ends_when_the_others_took_what_was_held_back():
    """Worker 0 over its part holds back, worker 1 takes the connections: a second later, new
    arrivals are held back afresh, not taken at once as if the first hold had lasted."""
    with worker_zero(10, [2]) as (server, _, listening, connect):
        connect()
        server._accept()
        assert waiting_connections(listening) == 1  # held back
        listening.accept()[0].close()  # worker 1 takes it
        server.get_loop().run_until_complete(asyncio.sleep(HOLD_LIMIT_SECONDS + 0.02))
        connect()
        server._accept()
        assert waiting_connections(listening) == 1  # held back again, for the others


def test_the_fair_part_follows_how_many_workers_the_supervisor_says_run():
    """Started as three workers, two left after SIGTTOU (slot 0 says 2): with 15 connections
    each, a worker takes the next arrival instead of leaving it to the one gone."""
    with worker_zero(15, [15, 0], share=3, running=2) as (server, counts, listening, connect):
        connect()
        server._accept()
        assert waiting_connections(listening) == 0 and counts.mine == 16
