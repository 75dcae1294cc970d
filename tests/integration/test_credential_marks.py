"""The revocation mark each store keeps (adapters/sql/credential_marks.py): a process keeps the
credential epochs it read while the mark vouches for them, and never answers a stale one after a
change committed through any process, nor while the mark cannot vouch."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import psycopg
import pytest

from crossroads.adapters.sql.credential_marks import LISTENER_NAME
from crossroads.adapters.sql.store import open_store
from crossroads.domain.registry import Application, Institution

pytestmark = pytest.mark.anyio

INSTITUTION = "0200000736"


async def until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def two_stores(store_url):
    """Two stores on one database, as two hub processes; the first holds one application."""
    first = await open_store(store_url)
    second = await open_store(store_url)
    # Both listen (on PostgreSQL they connect in the background), as in a running deployment.
    await until(
        lambda: first.registry._mark.read() is not None and second.registry._mark.read() is not None
    )
    await first.registry.put_institution(Institution(INSTITUTION, "Welfare centre"))
    await first.registry.put_application(
        Application(INSTITUTION, "case-app", "Case app", {"keys": []}, True)
    )
    yield first, second, store_url
    await first.close()
    await second.close()


async def write_epoch_behind_the_hubs_back(store_url: str, epoch: str) -> None:
    """A write no hub process signals: only what is kept can still answer the old epoch."""
    if store_url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(store_url.removeprefix("sqlite:///"))
        conn.execute("UPDATE applications SET token_epoch = ?", (epoch,))
        conn.commit()
        conn.close()
        return
    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute("UPDATE applications SET token_epoch = %s", (epoch,))


async def test_an_epoch_is_kept_while_the_mark_is_unchanged_and_reread_after_any_processs_change(
    two_stores,
):
    first, second, url = two_stores
    kept = await second.registry.credential_epoch(INSTITUTION, "case-app")
    assert kept is not None
    await write_epoch_behind_the_hubs_back(url, "unsignalled")
    assert await second.registry.credential_epoch(INSTITUTION, "case-app") == kept  # no store read

    await first.registry.put_application(
        Application(INSTITUTION, "case-app", "Case app", {"keys": []}, False)
    )
    # The change's call has returned: the other process answers from the store at once.
    assert await second.registry.credential_epoch(INSTITUTION, "case-app") is None
    assert await first.registry.credential_epoch(INSTITUTION, "case-app") is None

    await first.registry.put_application(
        Application(INSTITUTION, "case-app", "Case app", {"keys": []}, True)
    )
    enabled = await second.registry.credential_epoch(INSTITUTION, "case-app")
    assert enabled is not None and enabled != kept
    await first.registry.delete("institution", (INSTITUTION,))
    assert await second.registry.credential_epoch(INSTITUTION, "case-app") is None


async def test_a_change_that_rolls_back_leaves_the_kept_epochs_alone(two_stores):
    first, second, _ = two_stores
    kept = await second.registry.credential_epoch(INSTITUTION, "case-app")
    mark = second.registry._mark.read()
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):  # no such institution
        await first.registry.put_application(
            Application("0999999999", "ghost", "No institution", {"keys": []}, True)
        )
    await asyncio.sleep(0.1)  # a notification, if one had been sent, would have arrived by now
    assert second.registry._mark.read() == mark
    assert await second.registry.credential_epoch(INSTITUTION, "case-app") == kept


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
async def test_without_its_listener_a_postgres_process_reads_every_epoch_from_the_store(two_stores):
    _first, second, url = two_stores
    await second.registry.credential_epoch(INSTITUTION, "case-app")
    with psycopg.connect(url, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT pg_terminate_backend(pid, 1000) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            (LISTENER_NAME,),
        ).fetchall()
    assert len(killed) == 2  # one listener a process
    await write_epoch_behind_the_hubs_back(url, "while-deaf")
    # However soon it is asked, the deaf process does not vouch for what it kept.
    assert await second.registry.credential_epoch(INSTITUTION, "case-app") == "while-deaf"
    await until(lambda: second.registry._mark.read() is not None)  # it listens again
    await write_epoch_behind_the_hubs_back(url, "after")
    assert (
        await second.registry.credential_epoch(INSTITUTION, "case-app") == "after"
    )  # what was kept is gone


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
async def test_a_listener_not_acknowledging_a_change_is_disconnected_before_the_change_returns(
    two_stores,
):
    first, second, url = two_stores
    # A process that listens but hangs: it hears the change and never says so.
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, application_name=LISTENER_NAME
    ) as hung:
        await hung.execute("LISTEN crossroads_credentials")
        pid = hung.info.backend_pid
        started = time.monotonic()
        await first.registry.put_application(
            Application(INSTITUTION, "case-app", "Case app", {"keys": []}, False)
        )
        took = time.monotonic() - started
        with psycopg.connect(url, autocommit=True) as conn:
            alive = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()[0]
        assert alive == 0  # cut before the change returned: that process can no longer vouch
        assert 0.9 < took < 5  # the others answered; the hung one was waited for, a bounded time
    # The processes that answered kept listening, and see the change.
    assert second.registry._mark.read() is not None
    assert await second.registry.credential_epoch(INSTITUTION, "case-app") is None
