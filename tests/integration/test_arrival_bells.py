"""The bells between processes sharing a SQLite store (adapters/sql/arrival_bells.py), each
`SocketBells` standing for one process: a ring reaches every other listener and not the ringer,
a listener that went away without a word is dropped at the next ring, and one that stopped
listening hears nothing more. (Two real hub processes, on both stores: tests/e2e/
test_rights_wake_processes.py.)"""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from crossroads.adapters.sql.arrival_bells import SocketBells

pytestmark = pytest.mark.anyio
ENGINE = ("0200001430", "engine-app")
FUND = ("0200000439", "rights-app")


async def heard_within(queue: asyncio.Queue, seconds: float = 10.0) -> list:
    return await asyncio.wait_for(queue.get(), seconds)


async def test_a_ring_reaches_the_other_listeners_and_not_the_ringer(tmp_path):
    folder = str(tmp_path / "hub.sqlite3.arrivals")
    engine, register, other = SocketBells(folder), SocketBells(folder), SocketBells(folder)
    at_engine: asyncio.Queue = asyncio.Queue()
    at_register: asyncio.Queue = asyncio.Queue()
    at_other: asyncio.Queue = asyncio.Queue()
    await engine.listen(lambda boxes: at_engine.put_nowait(list(boxes)))
    await register.listen(lambda boxes: at_register.put_nowait(list(boxes)))
    await other.listen(lambda boxes: at_other.put_nowait(list(boxes)))
    try:
        register.ring([ENGINE, FUND, ENGINE])
        assert sorted(await heard_within(at_engine)) == sorted([ENGINE, FUND])
        assert sorted(await heard_within(at_other)) == sorted([ENGINE, FUND])
        await asyncio.sleep(0.2)
        assert at_register.empty()  # its own process rang its bells already
        await other.quiet()
        engine.ring([FUND])
        assert await heard_within(at_register) == [FUND]
        await asyncio.sleep(0.2)
        assert at_other.empty()
        assert len(os.listdir(folder)) == 2  # the quiet one took its socket away
    finally:
        for bells in (engine, register, other):
            await bells.close()


async def test_the_socket_of_a_process_gone_is_removed_at_the_next_ring(tmp_path):
    folder = tmp_path / "hub.sqlite3.arrivals"
    folder.mkdir()
    gone = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    gone.bind(str(folder / "0123456789abcdef"))
    gone.close()  # killed: its socket is left in the folder, bound to nobody
    engine, register = SocketBells(str(folder)), SocketBells(str(folder))
    at_engine: asyncio.Queue = asyncio.Queue()
    await engine.listen(lambda boxes: at_engine.put_nowait(list(boxes)))
    try:
        register.ring([ENGINE])
        assert await heard_within(at_engine) == [ENGINE]
        assert "0123456789abcdef" not in os.listdir(folder)
    finally:
        await engine.close()
        await register.close()


async def test_a_postgres_listener_whose_connection_was_cut_listens_again():
    """`NotifyBells` keeps its own LISTEN connection (adapters/sql/pg_listener.py): cut by the
    server, it reconnects and hears the bells rung after, and never its own process's."""
    import psycopg

    from crossroads.adapters.sql.arrival_bells import CHANNEL, LISTENER_NAME, PROCESS, NotifyBells

    from ..conftest import drop_postgres_database, fresh_postgres_database

    url = fresh_postgres_database()  # its own, so that only its listener is cut
    queue: asyncio.Queue = asyncio.Queue()
    bells = NotifyBells(url)
    await bells.listen(queue.put_nowait)

    def ring(sender: str, mailbox: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{sender} {mailbox}"))

    async def rung_until_heard(mailbox: str) -> list:
        # The listener may not be listening yet: ring again until it hears.
        for _ in range(100):
            ring("another-process", mailbox)
            try:
                return await asyncio.wait_for(queue.get(), 0.1)
            except TimeoutError:
                continue
        raise AssertionError(f"{mailbox} never heard")

    try:
        assert await rung_until_heard("0200000439:rights-app") == [FUND]
        ring(PROCESS, "0200001430:engine-app")  # its own process's bell: not heard
        with psycopg.connect(url, autocommit=True) as conn:
            cut = conn.execute(
                "SELECT pg_terminate_backend(pid, 1000) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = %s",
                (LISTENER_NAME,),
            ).fetchall()
        assert cut
        while not queue.empty():
            assert queue.get_nowait() != [ENGINE]
        assert await rung_until_heard("0200001430:engine-app") == [ENGINE]
    finally:
        await bells.close()
        drop_postgres_database(url)
