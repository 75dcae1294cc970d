"""The audit log's commit delay (CROSSROADS_AUDIT_COMMIT_DELAY_MS), on SQLite and PostgreSQL: while
appends come in together the next commit waits for more of them; a lone append never waits."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from crossroads.adapters.sql.audit_file import audit_path
from crossroads.adapters.sql.store import SqlStore, open_store
from crossroads.adapters.sql.write_turn import turn_path
from crossroads.domain.audit import AuditRecord

pytestmark = pytest.mark.anyio
DELAY = 1.0  # long, so that a slow machine's commit is never mistaken for the delay


def record(tag: str) -> AuditRecord:
    return AuditRecord(kind="exchange", at_ms=1, outcome="ok", request_id=tag)


async def timed_append(store: SqlStore, tag: str) -> float:
    started = time.monotonic()
    await store.audit.append(record(tag))
    return time.monotonic() - started


@contextlib.contextmanager
def others_turn(store_url: str) -> Iterator[None]:
    """On SQLite, hold the writers' turn as another hub process would: appends made
    meanwhile queue up and are committed together once it is released. PostgreSQL's appends of
    one loop iteration are committed together anyway (one flush takes all that is queued)."""
    if not store_url.startswith("sqlite:"):
        yield
        return
    turn = os.open(
        turn_path(audit_path(store_url.removeprefix("sqlite:///"))), os.O_RDWR | os.O_CREAT
    )
    try:
        fcntl.flock(turn, fcntl.LOCK_EX)
        yield
    finally:
        os.close(turn)  # lets the turn go


@contextlib.asynccontextmanager
async def opened(store_url: str, delay: float) -> AsyncIterator[SqlStore]:
    store = await open_store(store_url, audit_commit_delay_seconds=delay)
    try:
        yield store
    finally:
        await store.close()


async def transactions_of(store: SqlStore, seqs: list[int]) -> int:
    """How many PostgreSQL transactions wrote the entries `seqs`."""
    row = await store.db.fetchone(
        "SELECT COUNT(DISTINCT xact_id) FROM audit_log WHERE seq = ANY(?)", (seqs,)
    )
    return row[0]


async def appended_together(store: SqlStore, store_url: str, count: int) -> list[int]:
    with others_turn(store_url):
        appends = [asyncio.ensure_future(store.audit.append(record(f"t{i}"))) for i in range(count)]
        await asyncio.sleep(0.2)  # every one queued behind the turn
    return await asyncio.gather(*appends)


async def test_after_appends_that_came_together_the_next_commit_waits_for_more(store_url):
    async with opened(store_url, DELAY) as store:
        assert await timed_append(store, "first") < DELAY / 2  # a lone append is not delayed
        seqs = await appended_together(store, store_url, 5)
        assert len(set(seqs)) == 5
        # The last commit held five appends: the next one waits for others to join it...
        waited = await timed_append(store, "after-five")
        assert waited >= DELAY * 0.9
        # ...and its commit held one, so the one after does not wait.
        assert await timed_append(store, "after-one") < DELAY / 2
        if store_url.startswith("postgres"):  # the five in one transaction
            assert await transactions_of(store, seqs) == 1
        assert await store.audit.count() == 8


async def test_appends_arriving_during_the_delay_share_its_commit(store_url):
    async with opened(store_url, DELAY) as store:
        await appended_together(store, store_url, 3)
        started = time.monotonic()
        early = asyncio.ensure_future(timed_append(store, "early"))
        await asyncio.sleep(DELAY / 4)
        late = asyncio.ensure_future(store.audit.append(record("late")))
        waited, _ = await asyncio.gather(early, late)
        assert waited >= DELAY * 0.9  # the early one waited for company...
        assert time.monotonic() - started < DELAY * 1.6  # ...and the late one joined its commit
        entries = await store.audit.read(0, 100)
        joined = [seq for seq, data in entries if b'"early"' in data or b'"late"' in data]
        assert len(joined) == 2 and joined[1] == joined[0] + 1
        if store_url.startswith("postgres"):
            assert await transactions_of(store, joined) == 1


async def test_an_append_on_a_quiet_hub_does_not_wait_even_after_a_busy_commit(store_url):
    async with opened(store_url, 0.3) as store:
        await appended_together(store, store_url, 5)
        await asyncio.sleep(0.5)  # longer than the delay: the hub has gone quiet
        assert await timed_append(store, "alone") < 0.2


async def test_without_a_delay_appends_after_a_busy_commit_do_not_wait(store_url):
    async with opened(store_url, 0) as store:
        await appended_together(store, store_url, 5)
        assert await timed_append(store, "after-five") < DELAY / 2


async def test_the_delay_ends_once_every_announced_append_has_come(store_url):
    """An exchange announces its record when it starts (AuditLog.announce): the next commit
    waits for the records still on their way, and no longer than for the last of them."""
    async with opened(store_url, DELAY) as store:
        await appended_together(store, store_url, 3)  # the next commit would wait for company
        store.audit.announce()
        store.audit.announce()
        started = time.monotonic()
        first = asyncio.ensure_future(store.audit.append(record("first"), announced=True))
        await asyncio.sleep(DELAY / 4)
        assert not first.done()  # the other exchange's record is still on its way
        [second] = await asyncio.gather(store.audit.append(record("second"), announced=True))
        assert time.monotonic() - started < DELAY * 0.75  # not the whole delay
        assert second == await first + 1  # one commit, in the order they came
        if store_url.startswith("postgres"):
            assert await transactions_of(store, [second - 1, second]) == 1


async def test_an_announced_append_that_was_the_last_on_its_way_does_not_wait(store_url):
    async with opened(store_url, DELAY) as store:
        await appended_together(store, store_url, 3)
        store.audit.announce()
        started = time.monotonic()
        await store.audit.append(record("alone"), announced=True)
        assert time.monotonic() - started < DELAY / 2


async def test_a_withdrawn_announcement_ends_the_wait_for_it(store_url):
    async with opened(store_url, DELAY) as store:
        await appended_together(store, store_url, 3)
        store.audit.announce()
        store.audit.announce()
        started = time.monotonic()
        first = asyncio.ensure_future(store.audit.append(record("first"), announced=True))
        await asyncio.sleep(DELAY / 4)
        assert not first.done()
        store.audit.withdraw()  # the other exchange ended without a record of this log's
        await first
        assert time.monotonic() - started < DELAY * 0.75


async def test_appends_not_announced_still_wait_out_the_delay_beside_announced_ones(store_url):
    """What is not announced (a push's records) gathers as before: the announced append on its
    way ends the wait when it comes, not the unannounced one."""
    async with opened(store_url, DELAY) as store:
        await appended_together(store, store_url, 3)
        store.audit.announce()
        started = time.monotonic()
        pushed = asyncio.ensure_future(store.audit.append(record("push")))
        await asyncio.sleep(DELAY / 4)
        assert not pushed.done()
        await store.audit.append(record("exchange"), announced=True)
        await pushed
        assert time.monotonic() - started < DELAY * 0.75
