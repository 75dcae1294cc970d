"""The exchange (services/exchange.py) through its service, on the fakes: the nine steps, each
refusal audited, the highest version, minimisation, and what is forwarded to the provider."""

from __future__ import annotations

import asyncio
from datetime import date

import orjson
import pytest

from crossroads.domain.errors import Refusal
from crossroads.domain.registry import Service
from crossroads.services.exchange import ExchangeRequest
from crossroads.services.ports import ProviderReply, StoreUnavailable

from .conftest import NR, PERSON, STRANGER, WELFARE, WELFARE_APP, seed_identity

pytestmark = pytest.mark.anyio
IDENTITY = {"name": "Peeters", "birth_date": "1985-07-31", "gender": "F", "nationality": "BE"}


def answering(data, status: int = 200):
    async def answer(body: bytes, headers: dict[str, str]) -> ProviderReply:
        return ProviderReply(status, orjson.dumps(data), "application/json")

    return answer


async def integrate(world, subject: str = PERSON) -> None:
    await world.directory.change(
        {
            "op": "integrate",
            "subject": subject,
            "institution": WELFARE,
            "capacity": "SOCIAL_ASSISTANCE",
            "start": "2024-01-01",
        },
        WELFARE,
        "test",
    )


def ask(**overrides) -> ExchangeRequest:
    return ExchangeRequest(
        **{
            "caller": WELFARE_APP,
            "service": "person.identity",
            "subject": PERSON,
            "purpose": "SOCIAL_INTEGRATION",
            **overrides,
        }
    )


async def test_an_allowed_exchange_is_forwarded_signed_minimised_and_audited(world):
    await seed_identity(world)
    await integrate(world)
    world.providers.answers["http://nr.test/services/person.identity/1"] = answering(IDENTITY)
    result = await world.exchange.handle(ask(request_id="r-1", client_request_id="c-1"))
    [answer] = result.answers
    assert (answer.provider, answer.data) == (NR, {"name": "Peeters", "birth_date": "1985-07-31"})
    assert result.authorization.reference == "ISC/24/101" and result.version == "1"
    [sent] = world.providers.sent
    forwarded = orjson.loads(sent.body)
    assert (forwarded["subject"], forwarded["consumer"], forwarded["legal_basis"]) == (
        PERSON,
        WELFARE,
        "Law of 26 May 2002",
    )
    assert sent.headers["X-Request-Id"] == "r-1" and sent.headers["X-Crossroads-Signature"]
    [record] = world.records("exchange")
    assert (record.outcome, record.request_id, record.client_request_id, record.authorization) == (
        "ok",
        "r-1",
        "c-1",
        "ISC/24/101",
    )
    assert record.subject_hash == world.hasher.hex(PERSON) and record.providers == (NR,)


@pytest.mark.parametrize(
    "request_, code",
    [
        ({"subject": STRANGER}, "subject_not_in_directory"),
        ({"subject": "85073100131"}, "invalid_identifier"),
        ({"purpose": "MARKETING"}, "no_authorization"),
        ({"service": "person.unknown"}, "unknown_service"),
    ],
)
async def test_each_refusal_is_audited_with_its_code_and_nothing_is_forwarded(
    world, request_, code
):
    await seed_identity(world)
    await integrate(world)
    with pytest.raises(Refusal) as refused:
        await world.exchange.handle(ask(**request_))
    assert refused.value.code == code
    assert [r.outcome for r in world.records("exchange")] == [code]
    assert world.providers.sent == []


async def test_a_provider_answer_naming_a_key_twice_is_refused(world):
    """Checked against the schema as read here ("Peeters"), the answer would reach a consumer
    whose parser keeps the first value: a number no schema checked."""
    await seed_identity(world)
    await integrate(world)
    repeated = b'{"name": 5, ' + orjson.dumps(IDENTITY)[1:]

    async def answer(body: bytes, headers: dict[str, str]) -> ProviderReply:
        return ProviderReply(200, repeated, "application/json")

    world.providers.answers["http://nr.test/services/person.identity/1"] = answer
    with pytest.raises(Refusal) as refused:
        await world.exchange.handle(ask())
    assert refused.value.code == "invalid_provider_response"
    assert "name: the key appears twice" in refused.value.message
    assert [r.outcome for r in world.records("exchange")] == ["invalid_provider_response"]


async def test_a_service_named_without_a_version_resolves_to_its_highest_version(world):
    await seed_identity(world)
    await integrate(world)
    for version in ("1.9", "1.10", "1.a"):
        await world.store.registry.put_service(
            Service("person.identity", version, "Identity", ("name",), provider=NR)
        )
    world.providers.answers["http://nr.test/services/person.identity/1.10"] = answering(IDENTITY)
    assert (await world.exchange.handle(ask())).version == "1.10"
    assert [r.service for r in world.records("exchange")] == ["person.identity/1.10"]


async def test_a_provider_error_or_an_answer_off_its_schema_is_refused(world):
    await seed_identity(world)
    await integrate(world)
    url = "http://nr.test/services/person.identity/1"
    world.providers.answers[url] = answering({"oops": True}, status=500)
    with pytest.raises(Refusal) as refused:
        await world.exchange.handle(ask())
    assert refused.value.code == "provider_error"
    world.providers.answers[url] = answering({"birth_date": "1985-07-31"})  # no name
    with pytest.raises(Refusal) as refused:
        await world.exchange.handle(ask())
    assert refused.value.code == "invalid_provider_response"
    assert [r.outcome for r in world.records("exchange")] == [
        "provider_error",
        "invalid_provider_response",
    ]


async def test_a_person_no_longer_held_on_the_day_asked_about_is_refused(world):
    await seed_identity(world)
    await integrate(world)
    await world.directory.change(
        {
            "op": "end",
            "subject": PERSON,
            "institution": WELFARE,
            "capacity": "SOCIAL_ASSISTANCE",
            "end": "2025-12-31",
        },
        WELFARE,
        "test",
    )
    with pytest.raises(Refusal) as refused:
        await world.exchange.handle(ask())
    assert refused.value.code == "period_outside_integration"
    assert date(2025, 12, 31) < world.clock.today()


async def test_an_answer_whose_record_cannot_be_written_is_withheld_and_audited_once_back(world):
    await seed_identity(world)
    await integrate(world)
    world.providers.answers["http://nr.test/services/person.identity/1"] = answering(IDENTITY)
    world.store.audit.unreachable = True
    with pytest.raises(StoreUnavailable) as refused:
        await world.exchange.handle(ask(request_id="r-out"))
    assert refused.value.code == "not_ready" and refused.value.audited
    assert world.records("exchange") == []  # the provider answered; the caller was told nothing
    world.store.audit.unreachable = False
    for _ in range(100):
        if world.records("exchange"):
            break
        await asyncio.sleep(0.02)
    [record] = world.records("exchange")
    assert (record.outcome, record.request_id, record.providers) == ("not_ready", "r-out", (NR,))


async def test_exchanges_asked_together_are_audited_together_before_any_answer(world):
    """handle_together: each exchange authorized and audited as alone, a refusal in its place;
    the records appended at once, in the order asked, once the slowest has answered."""
    await seed_identity(world)
    await integrate(world)
    answered = asyncio.Event()

    async def slow(body: bytes, headers: dict[str, str]) -> ProviderReply:
        await answered.wait()
        return ProviderReply(200, orjson.dumps(IDENTITY), "application/json")

    world.providers.answers["http://nr.test/services/person.identity/1"] = slow
    together = asyncio.create_task(
        world.exchange.handle_together([ask(request_id="r-ok"), ask(subject=STRANGER)])
    )
    for _ in range(20):
        await asyncio.sleep(0)
    assert world.records("exchange") == []  # the refusal is decided, but not told before the other
    answered.set()
    result, refusal = await together
    assert isinstance(refusal, Refusal) and refusal.code == "subject_not_in_directory"
    assert refusal.audited and result.answers[0].data["name"] == "Peeters"
    first, second = world.records("exchange")  # in the order asked, not the order ended
    assert (first.request_id, first.outcome) == ("r-ok", "ok")
    assert second.outcome == "subject_not_in_directory"


async def test_exchanges_asked_together_in_an_outage_are_withheld_and_all_audited_once_back(world):
    await seed_identity(world)
    await integrate(world)
    world.providers.answers["http://nr.test/services/person.identity/1"] = answering(IDENTITY)
    world.store.audit.unreachable = True
    with pytest.raises(StoreUnavailable) as refused:
        await world.exchange.handle_together([ask(request_id="a"), ask(request_id="b")])
    assert refused.value.audited and world.records("exchange") == []
    world.store.audit.unreachable = False
    for _ in range(100):
        if len(world.records("exchange")) == 2:
            break
        await asyncio.sleep(0.02)
    assert sorted((r.request_id, r.outcome) for r in world.records("exchange")) == [
        ("a", "not_ready"),
        ("b", "not_ready"),
    ]


async def test_an_exchange_announces_its_record_and_ends_the_announcement_however_it_ends(world):
    """The audit log's commits may wait for an announced record (adapters/sql/audit.py): every
    way out of an exchange makes it or withdraws it, or the log would wait for it in vain."""
    await seed_identity(world)
    await integrate(world)
    audit = world.store.audit
    held = asyncio.Event()

    async def slow(body: bytes, headers: dict[str, str]) -> ProviderReply:
        await held.wait()
        return ProviderReply(200, orjson.dumps(IDENTITY), "application/json")

    world.providers.answers["http://nr.test/services/person.identity/1"] = slow
    running = asyncio.create_task(world.exchange.handle(ask()))
    for _ in range(20):
        await asyncio.sleep(0)
    assert audit.on_their_way == 1  # asked the provider: its record is on its way
    held.set()
    await running
    assert audit.on_their_way == 0 and len(world.records("exchange")) == 1

    held.clear()  # cancelled while the provider is asked: no record, the promise withdrawn
    running = asyncio.create_task(world.exchange.handle(ask()))
    for _ in range(20):
        await asyncio.sleep(0)
    assert audit.on_their_way == 1
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert audit.on_their_way == 0

    with pytest.raises(Refusal):  # a refusal's record is the announced one
        await world.exchange.handle(ask(subject=STRANGER))
    assert audit.on_their_way == 0

    async def out(*args, **kwargs):
        raise StoreUnavailable()

    world.store.directory.held_by = out  # the store out before the answer: a deferred record
    with pytest.raises(StoreUnavailable):
        await world.exchange.handle(ask())
    with pytest.raises(StoreUnavailable):
        await world.exchange.handle_together([ask(), ask(request_id="b")])
    assert audit.on_their_way == 0
