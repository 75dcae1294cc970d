"""A process's own PostgreSQL connection that LISTENs on channels, reconnected for as long as the
process runs.

The arrival bells and the credential marks each keep one: notifications reach only a connection
that is listening when they are sent, so the connection is the process's and not the pool's, and
it comes back after a restart of the server or a silent network (keepalives give up on one after
about `_NETWORK_SECONDS`). What was sent while it was away is lost; `on_lost` lets its owner say
so (the bells' readers poll anyway, the credential mark stops vouching for what it remembers).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

import psycopg

from ...services.cancellation import honour_lost_cancellation
from .outage import connect_options

# Waits after the 1st, 2nd, 3rd and later failed connections in a row.
_RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)
_NETWORK_SECONDS = 5.0
_log = logging.getLogger(__name__)


async def listen_for_ever(
    dsn: str,
    *,
    application_name: str,
    channels: Iterable[str],
    serve: Callable[[psycopg.AsyncConnection], Awaitable[None]],
    what: str,
    meanwhile: str,
    on_lost: Callable[[], None] | None = None,
) -> None:
    """Connect as `application_name`, LISTEN on each of `channels`, then await `serve(conn)`,
    which reads the notifications. When it ends or the connection fails: `on_lost()`, close, and
    connect again (waiting longer after each failed connection in a row). Returns only by
    cancellation. The log names `what` is listened for and what the process does `meanwhile`."""
    failures = 0
    while True:
        honour_lost_cancellation()  # else a close that cancels it could wait for ever
        try:
            conn = await psycopg.AsyncConnection.connect(
                dsn,
                autocommit=True,
                application_name=application_name,
                **connect_options(_NETWORK_SECONDS),
            )
        except (psycopg.Error, OSError) as exc:
            failures += 1
            _log.warning("cannot listen for %s (%s); %s", what, exc, meanwhile)
            await asyncio.sleep(_RECONNECT_SECONDS[min(failures, len(_RECONNECT_SECONDS)) - 1])
            continue
        try:
            for channel in channels:
                await conn.execute(f"LISTEN {channel}")
            failures = 0
            await serve(conn)
        except (psycopg.Error, OSError) as exc:
            _log.warning("lost the %s listener (%s); %s", what, exc, meanwhile)
        finally:
            if on_lost is not None:
                on_lost()
            await conn.close()
        await asyncio.sleep(_RECONNECT_SECONDS[0])
