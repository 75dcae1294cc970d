"""uvloop's event loop, except that a server on a socket it is given accepts every connection
waiting, not one each turn of the loop.

libuv (since 1.45, libuv/libuv#3696) accepts one connection per turn of the loop and relies on
the socket's being ready again at the next. A worker busy with pages takes a turn every few tens
of milliseconds with many requests in it, so 50 users connecting at once waited in the listen
queue for seconds: with the portal's bench on the shared machine, 36 of 50 connections were
still unaccepted after a second and 11 after six, and wrk counted their requests as timeouts
(every socket error of the bench). asyncio's own loop accepts up to its backlog at once; this
does the same on uvloop, which stays the hub's loop for everything else (it is faster on the
exchange). `crossroads serve` hands uvicorn a bound socket whatever its number of workers; a
server made from a host and port (the demo's) is left to uvloop as before.

Every worker is woken when connections wait, and the first to run would take them all: with
`crossroads bench exchange`'s 8 keep-alive connections, one worker held all 8 and the other
idled (0.1 s of CPU against 3.0 s over a 10 s run), which halved the hub's throughput on a quiet
machine. So a worker takes its share of the queue, the waiting connections (Linux tells their
number, `tcp_info` of the listening socket) divided by the workers, rounded up: 8 waiting are
taken 4 and 4, 50 waiting in a few turns of each worker, never one a turn. Connections that
arrive one by one are each "the whole queue", so a worker that has just accepted also steps
aside for a millisecond, and the next one goes to a worker that has not.

Shares of the queue are not shares of the load: connections that arrive one by one while one
worker is busier land where the loop is free, and keep-alive connections stay where they landed.
The portal's bench (50 users, 2 workers) found them split 18 and 32, so that the pages of the
worker with 32 took nearly twice as long and made the p95. Under `crossroads serve` the workers
therefore also tell each other how many connections each holds (`ConnectionCounts`, memory the
supervisor shares with them), and a worker that already holds its fair part of the open
connections and the waiting ones leaves the waiting ones to the others; if none takes them
within HOLD_LIMIT_SECONDS (a worker dead or stuck), it takes them anyway.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import Callable
from typing import Any

import uvloop

# Connections taken at one readiness: the rest wait for the next turn, so that a flood of new
# connections cannot keep a worker from answering the requests it already has.
ACCEPT_AT_ONCE = 128
# How long a worker that just accepted leaves the next connection to the others.
STEP_ASIDE_SECONDS = 0.001
# How long a worker leaves waiting connections to less loaded workers before it takes them itself.
HOLD_LIMIT_SECONDS = 0.05
# struct tcp_info (linux/tcp.h): eight one-byte fields, then u32 rto, ato, snd_mss, rcv_mss and
# unacked, which for a listening socket is the length of its accept queue.
_TCP_INFO_BYTES = 104
_ACCEPT_QUEUE_OFFSET = 24


def waiting_connections(sock: socket.socket) -> int | None:
    """How many connections wait in a listening socket's accept queue; None where the system
    does not say (not Linux)."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_BYTES)
    except (AttributeError, OSError):
        return None
    return int(struct.unpack_from("I", info, _ACCEPT_QUEUE_OFFSET)[0])


def workers_sharing() -> int:
    """The hub processes that accept from one socket: `crossroads serve` exports its
    CROSSROADS_WORKERS to them (read here, before the worker's settings exist)."""
    try:
        return max(1, int(os.environ.get("CROSSROADS_WORKERS") or 1))
    except ValueError:
        return 1


class ConnectionCounts:
    """The open connections of each worker, in memory the workers share: slot 0 holds how many
    workers run (the supervisor writes it as workers come and go, SIGTTIN and SIGTTOU included),
    slot 1 + n worker n's open connections, written only by that worker (its own count, whole,
    so that a replacement overlapping the worker it replaces is put right at the next change),
    read by all. A hint for balancing, not a ledger: a dead worker's stale count only makes the
    others take more."""

    def __init__(self, slots: Any, number: int) -> None:
        self._slots = slots
        self._slot = 1 + number
        self.mine = 0
        self._publish()

    def opened(self) -> None:
        self.mine += 1
        self._publish()

    def closed(self) -> None:
        self.mine -= 1
        self._publish()

    def workers(self, default: int) -> int:
        """How many workers share the socket now; `default` until the supervisor said."""
        return self._slots[0] if self._slots[0] > 0 else default

    def total(self) -> int:
        """Every worker's open connections (this one's as it counts them)."""
        others = sum(max(0, c) for i, c in enumerate(self._slots) if i not in (0, self._slot))
        return others + self.mine

    def _publish(self) -> None:
        if self._slot < len(self._slots):
            self._slots[self._slot] = self.mine


# Set in a worker of `crossroads serve --workers N` (entrypoints/supervisor.py) before its server
# starts; None in a single process, which has no one to share with.
_counts: ConnectionCounts | None = None


def share_counts(slots: Any, number: int) -> None:
    """Count this worker's connections in `slots` (shared with the other workers) as `number`."""
    global _counts
    _counts = ConnectionCounts(slots, number)


class AcceptingServer(asyncio.AbstractServer):
    """Accepts from a listening socket through `add_reader`, at each readiness its share of the
    waiting connections (`share` workers accept from the socket; at most ACCEPT_AT_ONCE), and
    hands each connection to uvloop as an accepted socket."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        factory: Callable[[], Any],
        sock: socket.socket,
        backlog: int,
        share: int = 1,
        counts: ConnectionCounts | None = None,
    ) -> None:
        self._loop = loop
        self._share = share
        self._counts = counts if share > 1 else None
        self._holding_since: float | None = None
        self._factory = factory
        self._sock = sock
        self._closed = asyncio.Event()
        sock.setblocking(False)
        sock.listen(backlog)  # as create_server does: uvicorn binds the socket, never listens
        loop.add_reader(sock.fileno(), self._accept)

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return () if self._closed.is_set() else (self._sock,)

    def _accept(self) -> None:
        waiting = waiting_connections(self._sock)
        take = ACCEPT_AT_ONCE if waiting is None else max(1, -(-waiting // self._share))
        if waiting and self._counts is not None:
            # This worker's fair part of every connection open or waiting, less what it holds.
            workers = self._counts.workers(self._share)
            fair = -(-(self._counts.total() + waiting) // workers)
            room = fair - self._counts.mine
            if room > 0:
                take = min(take, room)
            elif self._held_long_enough():  # the others did not come for them: all taken here
                take = waiting
            else:
                self._step_aside()
                return
        self._holding_since = None
        for _ in range(min(take, ACCEPT_AT_ONCE)):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return  # nothing more waiting (or another worker took it)
            conn.setblocking(False)
            if self._counts is not None:
                self._counts.opened()
            self._loop.create_task(self._open(conn))
        if self._share > 1:
            # Connections that arrive one by one (wrk's, a client pool's) would each go to
            # whichever worker wakes first, often the same one: step aside for a moment so that
            # the next goes to another worker.
            self._step_aside()

    def _held_long_enough(self) -> bool:
        """Whether connections have waited for other workers for HOLD_LIMIT_SECONDS already."""
        now = self._loop.time()
        if self._holding_since is None:
            self._holding_since = now
        return now - self._holding_since >= HOLD_LIMIT_SECONDS

    def _step_aside(self) -> None:
        if not self._closed.is_set():
            self._loop.remove_reader(self._sock.fileno())
            self._loop.call_later(STEP_ASIDE_SECONDS, self._listen_again)

    def _listen_again(self) -> None:
        if not self._closed.is_set():
            if not waiting_connections(self._sock):
                # The connections held back were taken by the others: a hold starts afresh.
                self._holding_since = None
            self._loop.add_reader(self._sock.fileno(), self._accept)

    async def _open(self, conn: socket.socket) -> None:
        factory = self._factory if self._counts is None else self._counted
        try:
            await self._loop.connect_accepted_socket(factory, conn)
        except OSError:
            conn.close()  # the client went away before its connection was set up
            if self._counts is not None:
                self._counts.closed()

    def _counted(self) -> Any:
        """The server's protocol, whose connection's end is counted."""
        protocol = self._factory()
        lost = protocol.connection_lost
        counts = self._counts
        assert counts is not None  # only given as the factory when counting

        def connection_lost(exc: Exception | None) -> None:
            counts.closed()
            lost(exc)

        protocol.connection_lost = connection_lost
        return protocol

    def close(self) -> None:
        if not self._closed.is_set():
            self._loop.remove_reader(self._sock.fileno())
            self._closed.set()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return not self._closed.is_set()

    async def start_serving(self) -> None:
        return None

    async def serve_forever(self) -> None:
        await self._closed.wait()

    async def wait_closed(self) -> None:
        await self._closed.wait()


class GreedyAcceptLoop(uvloop.Loop):  # type: ignore[misc]
    async def create_server(  # type: ignore[override]
        self, protocol_factory: Callable[[], Any], *args: Any, sock: Any = None, **kwargs: Any
    ) -> asyncio.AbstractServer:
        if sock is None or args or kwargs.get("ssl") is not None:
            return await super().create_server(protocol_factory, *args, sock=sock, **kwargs)
        return AcceptingServer(
            self, protocol_factory, sock, kwargs.get("backlog", 100), workers_sharing(), _counts
        )


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The loop factory uvicorn is given (`loop="crossroads.entrypoints.greedy_accept:..."`)."""
    return GreedyAcceptLoop()
