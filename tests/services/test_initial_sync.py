"""Initial synchronisation (services/initial_sync.py) on the fakes: an institution integrating a
person is sent the current state of the types it subscribes to, asked of their publishers, with
only the fields its authorization allows, and only where the integration entitles it."""

from __future__ import annotations

from datetime import date

import orjson
import pytest

from crossroads.domain.callers import Caller
from crossroads.domain.mutations import MutationType, event_type
from crossroads.domain.registry import Authorization, Capacity, IntegrationRight
from crossroads.services.initial_sync import InitialSync
from crossroads.services.ports import ProviderReply
from crossroads.services.registry_cache import RegistryCache

from .conftest import NR, PERSON, WELFARE, WELFARE_APP, seed_identity

pytestmark = pytest.mark.anyio
ADDRESS, HOUSEHOLD = "person.address", "person.household"
STATE = {"street": "Rue Haute 1", "city": "Namur"}


def state_of(data):
    async def answer(body: bytes, headers: dict[str, str]) -> ProviderReply:
        return ProviderReply(200, orjson.dumps(data), "application/json")

    return answer


def kind(code: str, name: str, fields: tuple[str, ...]) -> MutationType:
    return MutationType(
        code,
        "1",
        name,
        NR,
        fields,
        {"type": "object"},
        state_path=f"/mutations/{code}/1/state",
    )


def authorization(reference: str, code: str, capacity: str, fields: tuple[str, ...]):
    return Authorization(
        reference,
        WELFARE,
        code,
        "SOCIAL_INTEGRATION",
        "Law of 26 May 2002",
        (capacity,),
        fields,
        date(2020, 1, 1),
    )


@pytest.fixture
async def sync(world) -> InitialSync:
    """The welfare centre subscribes to addresses (city only, in SOCIAL_ASSISTANCE) and to
    households (only in another capacity, DEBT_MEDIATION); the register answers both states."""
    await seed_identity(world)
    registry = world.store.registry
    await registry.put_capacity(Capacity("DEBT_MEDIATION", "Debt mediation"))
    await registry.put_integration_right(IntegrationRight(WELFARE, "DEBT_MEDIATION", "law"))
    await world.mutations.put_type(kind(ADDRESS, "Change of address", ("street", "city")))
    await world.mutations.put_type(kind(HOUSEHOLD, "Household", ("members",)))
    await registry.put_authorization(
        authorization("ISC/25/301", ADDRESS, "SOCIAL_ASSISTANCE", ("city",))
    )
    await registry.put_authorization(
        authorization("ISC/25/302", HOUSEHOLD, "DEBT_MEDIATION", ("members",))
    )
    for code in (ADDRESS, HOUSEHOLD):
        await world.mutations.subscribe(WELFARE_APP, code, "SOCIAL_INTEGRATION", None, "pull", None)
    world.providers.answers["http://nr.test/mutations/person.address/1/state"] = state_of(STATE)
    world.providers.answers["http://nr.test/mutations/person.household/1/state"] = state_of(
        {"members": 3}
    )
    return InitialSync(
        world.directory,
        world.store.mutations,
        RegistryCache(world.store.registry, 0),
        world.providers,
        world.keys,
        world.store.audit,
        world.clock,
        world.scheme,
        world.hasher,
    )


async def test_an_integration_is_sent_the_state_its_authorization_allows_and_only_that(world, sync):
    queued = await sync.integrate(
        {
            "op": "integrate",
            "subject": PERSON,
            "institution": WELFARE,
            "capacity": "SOCIAL_ASSISTANCE",
            "start": "2024-01-01",
        },
        WELFARE,
        "test",
    )
    assert queued == 1  # the household is not sent: SOCIAL_ASSISTANCE does not entitle to it
    assert [s.url for s in world.providers.sent] == [
        "http://nr.test/mutations/person.address/1/state"
    ]
    asked = orjson.loads(world.providers.sent[0].body)
    assert (asked["subject"], asked["consumer"], asked["authorization"]) == (
        PERSON,
        WELFARE,
        "ISC/25/301",
    )
    [message] = await world.mutations.mailbox(WELFARE_APP, 0, 10)
    event = orjson.loads(message.message)
    assert (event["type"], event["subject"], event["data"]) == (
        event_type(ADDRESS, "1"),
        PERSON,
        {"city": "Namur"},
    )
    assert event["initialsync"] is True
    [synced] = [r for r in world.records("mutation") if r.action == "mutation.sync"]
    assert (synced.outcome, synced.consumer, synced.authorization) == ("ok", WELFARE, "ISC/25/301")


async def test_a_failing_publisher_is_audited_and_the_integration_stands(world, sync):
    del world.providers.answers["http://nr.test/mutations/person.address/1/state"]
    queued = await sync.integrate(
        {
            "op": "integrate",
            "subject": PERSON,
            "institution": WELFARE,
            "capacity": "SOCIAL_ASSISTANCE",
            "start": "2024-01-01",
        },
        WELFARE,
        "test",
    )
    assert queued == 0
    assert await world.mutations.mailbox(WELFARE_APP, 0, 10) == []
    [synced] = [r for r in world.records("mutation") if r.action == "mutation.sync"]
    assert synced.outcome == "provider_unavailable"
    [held] = await world.store.directory.held_by(world.hasher.key(PERSON), WELFARE)
    assert held.capacity == "SOCIAL_ASSISTANCE"


async def test_a_peers_subscription_is_sent_no_state_unless_its_member_is_that_peers(world, sync):
    """A subscription made through peer A (`peer.A`) for one of this hub's own members (made
    before schema 26 recorded members' peers) is sent nothing when the member integrates a
    person; once the member is recorded as A's, it is (services/peer_membership.py)."""
    via_a = Caller(WELFARE, "peer.A")
    await world.mutations.subscribe(via_a, ADDRESS, "SOCIAL_INTEGRATION", None, "pull", None)
    line = {
        "op": "integrate",
        "subject": PERSON,
        "institution": WELFARE,
        "capacity": "SOCIAL_ASSISTANCE",
        "start": "2024-01-01",
    }
    assert await sync.integrate(line, WELFARE, "test") == 1  # its own application's only
    assert await world.mutations.mailbox(via_a, 0, 10) == []
    await world.registry.record_peer(WELFARE, "A")
    assert await sync.send(WELFARE, PERSON, "SOCIAL_ASSISTANCE") == 2
    assert len(await world.mutations.mailbox(via_a, 0, 10)) == 1
