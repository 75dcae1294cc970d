"""The store of signed-in browser sessions (services/session_records.py), on SQLite and on
PostgreSQL: a session holds for its audience and identity until it is ended or reaches its
absolute end, and the rows of ended sessions are deleted at the next sign-in."""

from __future__ import annotations

import pytest

from crossroads.adapters.sql.store import open_store
from crossroads.services.clock import FixedClock
from crossroads.services.session_records import SessionRecords

pytestmark = pytest.mark.anyio
T0 = 1_780_000_000
LIFETIME = 3600


@pytest.fixture
async def store(store_url):
    opened = await open_store(store_url)
    yield opened
    await opened.close()


async def rows(store) -> int:
    return (await store.db.fetchone("SELECT COUNT(*) FROM browser_sessions"))[0]


async def test_a_session_holds_only_for_its_audience_and_identity_until_it_ends(store):
    clock = FixedClock(T0)
    records = SessionRecords(store.browser_sessions, clock, LIFETIME)
    professional = {"kind": "employer", "organisation": "0410000192", "role": "manager"}
    session = await records.open("portal", professional, "cd" * 16)
    assert await records.holds(session, "portal", dict(reversed(professional.items())))
    assert not await records.holds(session, "operator", professional)
    assert not await records.holds(session, "portal", {**professional, "role": "viewer"})
    assert not await records.holds("another-id", "portal", professional)
    assert not await records.holds(None, "portal", professional)
    await records.end(session)
    assert not await records.holds(session, "portal", professional)
    await records.end(session)  # ending twice is nothing


async def test_a_session_ends_at_its_absolute_lifetime(store):
    clock = FixedClock(T0)
    records = SessionRecords(store.browser_sessions, clock, LIFETIME)
    session = await records.open("citizen", "ab" * 32, "ab" * 32)
    clock.at = T0 + LIFETIME - 1
    assert await records.holds(session, "citizen", "ab" * 32)
    clock.at = T0 + LIFETIME
    assert not await records.holds(session, "citizen", "ab" * 32)


async def test_the_rows_of_ended_sessions_are_deleted_at_the_next_sign_in(store):
    clock = FixedClock(T0)
    records = SessionRecords(store.browser_sessions, clock, LIFETIME)
    for n in range(5):
        await records.open("operator", f"person:{n}", f"person:{n}")
    clock.at = T0 + LIFETIME // 2
    kept = await records.open("operator", "person:kept", "person:kept")
    assert await rows(store) == 6
    clock.at = T0 + LIFETIME + 1  # the first five have ended; the sixth has not
    await records.open("operator", "person:later", "person:later")
    assert await rows(store) == 2
    assert await records.holds(kept, "operator", "person:kept")


async def test_an_unknown_audience_is_not_recorded(store):
    records = SessionRecords(store.browser_sessions, FixedClock(T0), LIFETIME)
    with pytest.raises(ValueError):
        await records.open("visitor", "someone", "someone")


async def test_a_persons_sessions_end_together_and_no_one_elses(store):
    clock = FixedClock(T0)
    records = SessionRecords(store.browser_sessions, clock, LIFETIME)
    person = "ef" * 16
    acting = [
        {"kind": "employer", "organisation": "0410000192", "role": "employer", "person": person},
        {"kind": "institution", "organisation": "0200000934", "role": "viewer", "person": person},
    ]
    theirs = [await records.open("portal", a, person) for a in acting]
    other = {**acting[0], "person": "01" * 16}
    kept = await records.open("portal", other, other["person"])
    citizen = await records.open("citizen", person, person)  # the same digest, another audience
    assert await records.count_person("portal", person) == 2
    assert await records.end_person("portal", person) == 2
    for session, acting_as in zip(theirs, acting, strict=True):
        assert not await records.holds(session, "portal", acting_as)
    assert await records.holds(kept, "portal", other)
    assert await records.holds(citizen, "citizen", person)
    assert await records.count_person("portal", person) == 0
    assert await records.end_person("portal", person) == 0
    clock.at = T0 + LIFETIME  # ended by its lifetime: no longer counted
    assert await records.count_person("citizen", person) == 0


async def test_migration_0031_keeps_citizens_and_operators_sessions_and_ends_the_portals(store):
    """The sessions recorded before `person` existed: a citizen's and an operator's identity was
    their person already, so they hold and can be ended by person; a portal session's cannot be
    taken apart, so it is ended by the migration."""
    from crossroads.adapters.sql.migrate import _statements, available

    records = SessionRecords(store.browser_sessions, FixedClock(T0), LIFETIME)
    citizen = await records.open("citizen", "ab" * 16, "ab" * 16)
    operator = await records.open("operator", "person:olga", "person:olga")
    professional = {"kind": "employer", "organisation": "0410000192", "person": "cd" * 16}
    portal = await records.open("portal", professional, "cd" * 16)
    async with store.db.transaction() as tx:  # the table as migration 0030 left it
        await tx.execute("DROP INDEX browser_sessions_person")
        await tx.execute("ALTER TABLE browser_sessions DROP COLUMN person")
    # Migration 0031's own statements, as the runner applies them (the runner itself skips a
    # number below the store's highest, and later migrations are applied here already).
    [(_, name, sql)] = [m for m in available(store.db.dialect) if m[0] == 31]
    assert name.startswith("0031_browser_sessions_person")
    async with store.db.transaction() as tx:
        for statement in _statements(sql):
            await tx.execute(statement)
    assert await records.holds(citizen, "citizen", "ab" * 16)
    assert await records.holds(operator, "operator", "person:olga")
    assert not await records.holds(portal, "portal", professional)
    assert await records.end_person("operator", "person:olga") == 1
    assert await records.count_person("citizen", "ab" * 16) == 1
