"""Bounding PostgreSQL's waits, and telling an outage from an error of the statement.

An unreachable server or a dropped connection must answer `not_ready` within a bound, neither
hanging the request (or /ready) nor turning into a 500. Three bounds do it:

- connecting: libpq's `connect_timeout` (whole seconds, at least 2), and TCP keepalives with
  `tcp_user_timeout`, so that the kernel gives up on a peer behind a broken network;
- taking a connection from the pool: the pool's own timeout;
- a statement on a connection: a watchdog that shuts the connection's socket down when the
  statement outlives its bound, so that the wait ends at once with a connection error.
  Cancelling the coroutine would not do: psycopg then waits up to ten seconds more for the
  server to acknowledge a cancel request, which a server behind a broken network never does.

Errors of the connection itself (no SQLSTATE, class 08, the server shutting down or the backend
terminated: 57P01-57P03) and a pool timeout are outages, raised as `StoreUnavailable`; an error
of the statement (a constraint, a serialisation failure) stays what it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
from collections.abc import Iterator
from typing import Any

SHUTTING_DOWN = frozenset({"57P01", "57P02", "57P03"})


def connect_options(timeout: float) -> dict[str, Any]:
    """libpq connection parameters that bound connecting, and a silent network, by `timeout`."""
    idle = max(1, math.ceil(timeout))
    return {
        "connect_timeout": max(2, math.ceil(timeout)),  # libpq rounds anything less up to 2
        "keepalives": 1,
        "keepalives_idle": idle,
        "keepalives_interval": idle,
        "keepalives_count": 2,
        "tcp_user_timeout": int(timeout * 1000),  # data sent and not acknowledged for this long
    }


def is_outage(exc: BaseException) -> bool:
    """True when `exc` says the store cannot be reached, rather than that a statement failed."""
    import psycopg
    from psycopg_pool import PoolTimeout

    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        return state is None or state.startswith("08") or state in SHUTTING_DOWN
    return False


def is_pool_timeout(exc: BaseException | None) -> bool:
    """True when no connection could be had from the pool in time (the server is not taking
    new ones): trying again at once would wait as long again."""
    from psycopg_pool import PoolTimeout

    return isinstance(exc, PoolTimeout)


def _cut(conn: Any) -> None:
    # shutdown() acts on the socket, not on the descriptor: the duplicate closes alone, and
    # libpq's own read of the socket returns at once.
    with (
        contextlib.suppress(Exception),
        socket.socket(fileno=os.dup(conn.pgconn.socket)) as sock,
    ):
        sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def watchdog(conn: Any, seconds: float | None) -> Iterator[None]:
    """Within the block, `conn` may wait on the server `seconds` at most: past that its socket is
    shut down and the statement waiting fails as a lost connection (an outage). None: no bound."""
    if seconds is None:
        yield
        return
    handle = asyncio.get_running_loop().call_later(seconds, _cut, conn)
    try:
        yield
    finally:
        handle.cancel()
