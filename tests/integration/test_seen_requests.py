"""The requests peer hubs signed that the hub accepted, on SQLite and on PostgreSQL: seen by every
store opened on the same database (as every hub process opens its own), each request first once
however many ask at the same time, and forgotten only once its signature has expired."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from contextlib import closing

import pytest

from crossroads.adapters.sql.store import open_store

pytestmark = pytest.mark.anyio
NOW = 1_800_000_000


@pytest.fixture
async def two_processes(store_url):
    first, second = await open_store(store_url), await open_store(store_url)
    yield first, second
    await second.close()
    await first.close()


async def _count(store) -> int:
    """The rows kept: in the store on PostgreSQL, in the file beside it on SQLite."""
    if store.db.dialect == "postgres":
        return (await store.db.fetchone("SELECT COUNT(*) FROM seen_requests"))[0]
    with closing(sqlite3.connect(f"{store.db.path}.seen-requests")) as side:
        return side.execute("SELECT COUNT(*) FROM seen_requests").fetchone()[0]


async def test_a_request_seen_through_one_store_is_seen_through_another(two_processes):
    first, second = two_processes
    assert await first.seen_requests.first_use("A:r-1", NOW + 300, NOW) is True
    assert await second.seen_requests.first_use("A:r-1", NOW + 300, NOW) is False
    assert await first.seen_requests.first_use("A:r-1", NOW + 300, NOW) is False
    # The same request id from another peer is another request.
    assert await second.seen_requests.first_use("B:r-1", NOW + 300, NOW) is True


async def test_of_many_asking_at_once_for_the_same_request_exactly_one_is_first(two_processes):
    first, second = two_processes
    keys = [f"A:burst-{n}" for n in range(60)]
    asked = [
        store.seen_requests.first_use(key, NOW + 300, NOW)
        for key in keys
        for store in (first, second, first)  # twice in one process's round, once in the other
    ]
    answers = await asyncio.gather(*asked)
    for n, key in enumerate(keys):
        assert sum(answers[3 * n : 3 * n + 3]) == 1, key
    assert await _count(first) == len(keys)


async def test_a_request_is_kept_while_its_signature_is_valid_and_then_forgotten(two_processes):
    first, second = two_processes
    assert await first.seen_requests.first_use("A:old", NOW + 300, NOW)
    assert await first.seen_requests.first_use("A:recent", NOW + 400, NOW)
    # Later, past the first one's expiry: another process's round deletes it, not the other.
    later = NOW + 350
    assert await second.seen_requests.first_use("A:new", later + 300, later)
    assert await _count(second) == 2
    assert await second.seen_requests.first_use("A:recent", NOW + 400, later) is False
    assert await first.seen_requests.first_use("A:old", NOW + 300, later) is True


_OTHER_PROCESS = """
import asyncio, sys
from crossroads.adapters.sql.store import open_store
async def main():
    store = await open_store(sys.argv[1])
    now = int(sys.argv[3])
    print(await store.seen_requests.first_use(sys.argv[2], now + 300, now))
    await store.close()
asyncio.run(main())
"""


async def test_a_request_another_hub_process_accepted_is_seen_by_this_one(store_url):
    """Another process (a real one, as a second `crossroads serve` is) records the request."""

    def other(key: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", _OTHER_PROCESS, store_url, key, str(NOW)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    mine = await open_store(store_url)
    try:
        assert await asyncio.to_thread(other, "A:elsewhere") == "True"
        assert await mine.seen_requests.first_use("A:elsewhere", NOW + 300, NOW) is False
        assert await mine.seen_requests.first_use("A:here", NOW + 300, NOW) is True
        assert await asyncio.to_thread(other, "A:here") == "False"
    finally:
        await mine.close()
