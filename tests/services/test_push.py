"""Push delivery (services/push.py) on the fakes: a subscriber's messages POSTed to its webhook
through the in-memory provider client, signed, audited as delivered; a failed push is audited,
kept, and sent again once its back-off has passed, not lost."""

from __future__ import annotations

import asyncio
from datetime import date

import orjson
import pytest

from crossroads.adapters.outbox_queue import OutboxPushQueue
from crossroads.domain.callers import Caller
from crossroads.domain.mutations import MutationType
from crossroads.domain.registry import Application, Authorization, Institution
from crossroads.services.ports import ProviderReply
from crossroads.services.push import BATCH_MEDIA_TYPE, PushDispatcher

from .conftest import NR, PERSON, WELFARE, WELFARE_APP, seed_identity

pytestmark = pytest.mark.anyio
REGISTER = Caller(NR, "register-app")
TYPE = "person.address"
HOOK = "https://welfare.test/hooks/address"


class Webhook:
    """The subscriber's endpoint: answers with the next status of `statuses`, keeps each body."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.bodies: list[bytes] = []

    async def __call__(self, body: bytes, headers: dict[str, str]) -> ProviderReply:
        self.bodies.append(body)
        return ProviderReply(self.statuses.pop(0), b"{}", "application/json")


@pytest.fixture
async def pushed(world) -> PushDispatcher:
    """The welfare centre holds PERSON and has address changes pushed to its webhook; one change
    is published and waits in the outbox."""
    await seed_identity(world)
    registry = world.store.registry
    await registry.put_institution(
        Institution(WELFARE, "Welfare centre", webhook_bases=("https://welfare.test/hooks/",))
    )
    await registry.put_application(Application(NR, "register-app", "Register"))
    await world.mutations.put_type(
        MutationType(TYPE, "1", "Change of address", NR, ("street", "city"))
    )
    await registry.put_authorization(
        Authorization(
            "ISC/25/301",
            WELFARE,
            TYPE,
            "SOCIAL_INTEGRATION",
            "Law of 26 May 2002, art. 19",
            ("SOCIAL_ASSISTANCE",),
            ("city",),
            date(2020, 1, 1),
        )
    )
    await world.directory.change(
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
    await world.mutations.subscribe(WELFARE_APP, TYPE, "SOCIAL_INTEGRATION", None, "push", HOOK)
    published = await world.mutations.publish(
        REGISTER,
        TYPE,
        {
            "id": "m-1",
            "subject": PERSON,
            "effective_date": "2026-06-01",
            "payload": {"street": "Rue Haute 1", "city": "Namur"},
        },
    )
    assert published.recipients == 1
    return dispatcher(world, world.store.audit, batch=10)


def dispatcher(world, audit, batch: int) -> PushDispatcher:
    return PushDispatcher(
        world.store.mutations,
        OutboxPushQueue(world.store.mutations),
        world.providers,
        world.keys,
        audit,
        world.clock,
        max_attempts=5,
        retry_base_seconds=10,
        retry_max_seconds=600,
        batch=batch,
        jitter=lambda: 1.0,  # the whole back-off: the test knows when the retry is due
    )


async def publish_second(world) -> None:
    published = await world.mutations.publish(
        REGISTER,
        TYPE,
        {
            "id": "m-2",
            "subject": PERSON,
            "effective_date": "2026-06-02",
            "payload": {"street": "Rue Basse 2", "city": "Liège"},
        },
    )
    assert published.recipients == 1


async def deliver_until(world, dispatcher: PushDispatcher, delivered: int) -> None:
    """Runs the dispatcher's worker until `delivered` deliveries are audited (or 5 s)."""
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop, lambda: True, 0.01))
    try:
        for _ in range(500):
            if len([a for a in actions(world) if a[0] == "mutation.deliver"]) >= delivered:
                break
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await running


def ids(webhook: Webhook) -> list[str]:
    return [event["id"] for body in webhook.bodies for event in orjson.loads(body)]


def actions(world) -> list[tuple[str, str, str | None]]:
    return [
        (r.action, r.outcome, r.target)
        for r in world.records("mutation")
        if r.action in ("mutation.deliver", "mutation.push_failed", "mutation.dead_letter")
    ]


async def test_a_change_is_pushed_to_the_subscribers_webhook_signed_and_audited(world, pushed):
    webhook = world.providers.answers[HOOK] = Webhook(200)
    assert await pushed.deliver_due() == 1
    [sent] = world.providers.sent
    assert sent.url == HOOK and sent.headers["Content-Type"] == BATCH_MEDIA_TYPE
    assert sent.headers["X-Crossroads-Signature"]
    [event] = orjson.loads(webhook.bodies[0])
    assert (event["id"], event["subject"], event["data"]) == ("m-1", PERSON, {"city": "Namur"})
    assert actions(world) == [("mutation.deliver", "ok", "m-1")]
    assert await pushed.deliver_due() == 0  # delivered once: nothing is sent again
    assert len(world.providers.sent) == 1


async def test_a_failed_push_is_retried_after_its_back_off_not_lost(world, pushed):
    webhook = world.providers.answers[HOOK] = Webhook(503, 200)
    assert await pushed.deliver_due() == 0
    assert actions(world) == [("mutation.push_failed", "provider_error", "m-1")]
    assert await pushed.deliver_due() == 0  # not due again before its back-off (10 s)
    assert len(webhook.bodies) == 1
    world.clock.at += 11
    assert await pushed.deliver_due() == 1
    assert webhook.bodies[1] == webhook.bodies[0]  # the same message, sent again
    assert actions(world)[-1] == ("mutation.deliver", "ok", "m-1")
    assert await pushed.deliver_due() == 0


class HeldAudit:
    """The audit log, its appends held until `release` is set: a slow audit writer."""

    def __init__(self, audit) -> None:
        self.audit = audit
        self.release = asyncio.Event()

    async def append_many(self, records):
        await self.release.wait()
        return await self.audit.append_many(records)


async def test_the_next_batch_is_pushed_while_the_one_before_is_being_audited(world, pushed):
    await publish_second(world)
    held = HeldAudit(world.store.audit)

    class ReleasingWebhook(Webhook):
        async def __call__(self, body: bytes, headers: dict[str, str]) -> ProviderReply:
            reply = await super().__call__(body, headers)
            if len(self.bodies) == 2:  # the second batch came before the first's audit
                held.release.set()
            return reply

    webhook = world.providers.answers[HOOK] = ReleasingWebhook(200, 200)
    await deliver_until(world, dispatcher(world, held, batch=1), 2)
    assert ids(webhook) == ["m-1", "m-2"]
    assert actions(world) == [("mutation.deliver", "ok", "m-1"), ("mutation.deliver", "ok", "m-2")]
    assert await pushed.deliver_due() == 0  # both marked delivered: nothing is sent again


async def test_a_batch_that_cannot_be_audited_is_sent_again_with_what_followed_it(world, pushed):
    await publish_second(world)
    world.store.audit.unreachable = True

    class HealingWebhook(Webhook):
        async def __call__(self, body: bytes, headers: dict[str, str]) -> ProviderReply:
            if len(self.bodies) == 2:  # both batches were sent once, neither audited
                world.store.audit.unreachable = False
            return await super().__call__(body, headers)

    webhook = world.providers.answers[HOOK] = HealingWebhook(200, 200, 200, 200)
    pushing = dispatcher(world, world.store.audit, batch=1)
    await deliver_until(world, pushing, 2)
    # Each first receipt in order, then both again from the first not settled: at least once.
    assert ids(webhook) == ["m-1", "m-2", "m-1", "m-2"]
    assert actions(world) == [("mutation.deliver", "ok", "m-1"), ("mutation.deliver", "ok", "m-2")]
    assert pushing.failures == 1
    assert await pushed.deliver_due() == 0


class FailingOnce:
    """The audit log whose first batch of appends fails (an outage), everything after written."""

    def __init__(self, audit) -> None:
        self.audit, self.failed = audit, False

    async def append_many(self, records):
        if not self.failed:
            self.failed = True
            raise RuntimeError("the audit store is unreachable")
        return await self.audit.append_many(records)

    def __getattr__(self, name):
        return getattr(self.audit, name)


async def test_a_refused_push_is_recorded_even_when_the_batch_before_could_not_be_settled(
    world, pushed
):
    """m-1 is accepted but its settling fails; m-2, sent meanwhile, is refused by the webhook:
    every refusal of m-2 has its record and back-off (it was skipped when the settling before it
    failed), and m-1 is sent again and settled."""
    await publish_second(world)

    class RefusingSecond(Webhook):
        async def __call__(self, body: bytes, headers: dict[str, str]) -> ProviderReply:
            self.bodies.append(body)
            status = 503 if b'"m-2"' in body else 200
            return ProviderReply(status, b"{}", "application/json")

    webhook = world.providers.answers[HOOK] = RefusingSecond()
    stop = asyncio.Event()
    running = asyncio.create_task(
        dispatcher(world, FailingOnce(world.store.audit), batch=1).run(stop, lambda: True, 0.01)
    )
    try:
        for _ in range(500):
            if ("mutation.deliver", "ok", "m-1") in actions(world):
                break
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await running
    refused = [a for a in actions(world) if a == ("mutation.push_failed", "provider_error", "m-2")]
    assert len(refused) == ids(webhook).count("m-2") >= 1
    assert ("mutation.deliver", "ok", "m-1") in actions(world)
