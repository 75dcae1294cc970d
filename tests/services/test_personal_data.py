"""The citizen's data page's look-ups (services/personal_data.py) on the fakes: each one its own
audited exchange (record, request id, refusal), their records appended together before any answer
is shown, and none dropped."""

from __future__ import annotations

import asyncio
from datetime import date

import orjson
import pytest

from crossroads.domain.errors import Refusal
from crossroads.domain.own_access import OWN_ACCESS, OWN_ACCESS_APPLICATION, SELF
from crossroads.domain.registry import Authorization, Institution, Service
from crossroads.services.personal_data import PersonalData
from crossroads.services.ports import ProviderReply, StoreUnavailable
from crossroads.services.registry_cache import RegistryCache

from .conftest import NR, PERSON, seed_identity

pytestmark = pytest.mark.anyio
PORTAL = "0316381039"  # the member the look-ups are made as
IDENTITY = {"name": "Peeters", "birth_date": "1985-07-31", "gender": "F"}


async def seed_own_access(world) -> PersonalData:
    """person.identity (answers) and person.address (its source does not), each under an
    own-access authorization of the portal member."""
    await seed_identity(world)
    registry = world.store.registry
    await registry.put_institution(Institution(PORTAL, "Own access"))
    await registry.put_service(Service("person.address", "1", "Address", ("street",), provider=NR))
    for reference, service, fields in (
        ("OWN/26/001", "person.identity", ("name", "birth_date")),
        ("OWN/26/002", "person.address", ("street",)),
    ):
        await registry.put_authorization(
            Authorization(
                reference, PORTAL, service, OWN_ACCESS, "GDPR art. 15", (SELF,), fields,
                date(2020, 1, 1),
            )
        )  # fmt: skip
    return PersonalData(world.exchange, RegistryCache(registry, 0), world.clock, PORTAL)


async def test_each_look_up_is_its_own_audited_exchange_appended_with_the_others_before_any_answer(
    world,
):
    personal = await seed_own_access(world)
    answered = asyncio.Event()

    async def slow(body: bytes, headers: dict[str, str]) -> ProviderReply:
        await answered.wait()
        return ProviderReply(200, orjson.dumps(IDENTITY), "application/json")

    world.providers.answers["http://nr.test/services/person.identity/1"] = slow
    asking = asyncio.create_task(personal.of(PERSON))
    for _ in range(20):
        await asyncio.sleep(0)
    assert world.records("exchange") == []  # the refusal is decided, but not logged alone
    answered.set()
    identity, address = await asking
    assert identity.data == {"name": "Peeters", "birth_date": "1985-07-31"}  # minimised
    assert isinstance(address.refusal, Refusal) and address.refusal.audited
    assert address.refusal.code == "provider_unavailable"
    records = world.records("exchange")
    assert [(r.request_id, r.service, r.authorization, r.outcome) for r in records] == [
        (identity.request_id, "person.identity/1", "OWN/26/001", "ok"),
        (address.request_id, "person.address/1", "OWN/26/002", "provider_unavailable"),
    ]
    assert identity.request_id != address.request_id
    assert all(
        (r.consumer, r.application, r.purpose, r.subject_hash)
        == (PORTAL, OWN_ACCESS_APPLICATION, OWN_ACCESS, world.hasher.hex(PERSON))
        for r in records
    )
    await personal.of(PERSON)  # a second view: two more look-ups, two more records
    again = world.records("exchange")[2:]
    assert [r.service for r in again] == ["person.identity/1", "person.address/1"]
    assert len({r.request_id for r in world.records("exchange")}) == 4


async def test_look_ups_in_an_outage_are_refused_and_each_logged_once_the_store_is_back(world):
    personal = await seed_own_access(world)

    async def answering(body: bytes, headers: dict[str, str]) -> ProviderReply:
        return ProviderReply(200, orjson.dumps(IDENTITY), "application/json")

    world.providers.answers["http://nr.test/services/person.identity/1"] = answering
    world.store.audit.unreachable = True
    with pytest.raises(StoreUnavailable) as refused:
        await personal.of(PERSON)
    assert refused.value.audited and world.records("exchange") == []
    world.store.audit.unreachable = False
    for _ in range(100):
        if len(world.records("exchange")) == 2:
            break
        await asyncio.sleep(0.02)
    assert sorted((r.service, r.outcome) for r in world.records("exchange")) == [
        ("person.address/1", "not_ready"),
        ("person.identity/1", "not_ready"),
    ]
