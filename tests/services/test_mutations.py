"""Mutations (services/mutations.py) through their service, on the fakes: subscribing under an
authorization, publishing to those who hold the person, with only the allowed fields, once per
id, and acknowledging with an audit record per message."""

from __future__ import annotations

import asyncio
from datetime import date

import orjson
import pytest

from crossroads.domain.callers import Caller
from crossroads.domain.errors import Refusal
from crossroads.domain.mutations import MutationType, Subscription
from crossroads.domain.registry import Application, Authorization

from .conftest import NR, PERSON, STRANGER, WELFARE, WELFARE_APP, seed_identity

pytestmark = pytest.mark.anyio
REGISTER = Caller(NR, "register-app")
TYPE = "person.address"


@pytest.fixture
async def subscribed(world):
    """The welfare centre holds PERSON and subscribes to address changes, of which it may see
    the city only; the national register publishes them."""
    await seed_identity(world)
    await world.store.registry.put_application(Application(NR, "register-app", "Register"))
    await world.mutations.put_type(
        MutationType(
            TYPE,
            "1",
            "Change of address",
            NR,
            ("street", "city"),
            {"type": "object", "required": ["city"]},
        )
    )
    await world.store.registry.put_authorization(
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
    await world.mutations.subscribe(WELFARE_APP, TYPE, "SOCIAL_INTEGRATION", None, "pull", None)
    return world


def move(mutation_id: str, subject: str = PERSON) -> dict:
    return {
        "id": mutation_id,
        "subject": subject,
        "effective_date": "2026-06-01",
        "payload": {"street": "Rue Haute 1", "city": "Namur"},
    }


async def test_a_change_reaches_the_holder_with_only_its_fields_once_per_id(subscribed):
    world = subscribed
    accepted = await world.mutations.publish(REGISTER, TYPE, move("m-1"))
    assert (accepted.status, accepted.recipients) == ("accepted", 1)
    again = await world.mutations.publish(REGISTER, TYPE, move("m-1"))
    assert again.status == "duplicate"
    assert (await world.mutations.publish(REGISTER, TYPE, move("m-2", STRANGER))).recipients == 0
    [message] = await world.mutations.mailbox(WELFARE_APP, 0, 10)
    event = orjson.loads(message.message)
    assert (event["id"], event["subject"], event["data"]) == ("m-1", PERSON, {"city": "Namur"})


async def test_acknowledging_audits_each_message_as_delivered_once(subscribed):
    world = subscribed
    await world.mutations.publish(REGISTER, TYPE, move("m-1"))
    [message] = await world.mutations.mailbox(WELFARE_APP, 0, 10)
    assert await world.mutations.acknowledge(WELFARE_APP, [message.seq]) == 1
    assert await world.mutations.acknowledge(WELFARE_APP, [message.seq]) == 0
    assert await world.mutations.mailbox(WELFARE_APP, 0, 10) == []
    delivered = [r for r in world.records("mutation") if r.action == "mutation.deliver"]
    assert [(r.consumer, r.target, r.authorization) for r in delivered] == [
        (WELFARE, "m-1", "ISC/25/301")
    ]


async def test_only_the_types_publisher_publishes_and_a_second_subscription_conflicts(subscribed):
    world = subscribed
    with pytest.raises(Refusal) as refused:
        await world.mutations.publish(WELFARE_APP, TYPE, move("m-1"))
    assert refused.value.code == "forbidden"
    with pytest.raises(Refusal) as refused:
        await world.mutations.subscribe(WELFARE_APP, TYPE, "SOCIAL_INTEGRATION", None, "pull", None)
    assert refused.value.code == "conflict"


async def test_a_message_committed_to_a_pull_mailbox_rings_its_reader_once_accepted(subscribed):
    """services/arrivals.py: a reader of the mailbox in this process wakes at once; a duplicate
    or a refused mutation delivers nothing and rings nothing."""
    world = subscribed
    stop = asyncio.Event()
    assert await world.arrivals.wait(WELFARE, "case-app", stop, 0) is False
    await world.mutations.publish(REGISTER, TYPE, move("m-1"))
    assert await world.arrivals.wait(WELFARE, "case-app", stop, 3600) is True
    await world.mutations.publish(REGISTER, TYPE, move("m-1"))  # a duplicate
    await world.mutations.publish(REGISTER, TYPE, move("m-2", STRANGER))  # nobody holds them
    assert await world.arrivals.wait(WELFARE, "case-app", stop, 0) is False


async def test_mutations_of_several_types_are_published_together_or_refused_together(subscribed):
    world = subscribed
    births = MutationType("person.birth", "1", "Birth", NR, ("city",), {"type": "object"})
    await world.mutations.put_type(births)
    outcomes = await world.mutations.publish_together(
        REGISTER, [(TYPE, move("m-1")), ("person.birth", move("b-1")), (TYPE, {"id": "x"})]
    )
    assert [getattr(o, "status", None) for o in outcomes[:2]] == ["accepted", "accepted"]
    assert isinstance(outcomes[2], Refusal)  # refused alone, in its place
    assert [r.target for r in world.records("mutation")][-2:] == ["m-1", "b-1"]
    with pytest.raises(Refusal) as refused:  # a type another institution publishes
        await world.mutations.publish_together(
            Caller(WELFARE, "case-app"), [(TYPE, move("m-3")), ("person.birth", move("b-3"))]
        )
    assert refused.value.code == "forbidden"


async def test_a_peers_subscription_receives_only_while_its_member_is_recorded_as_that_peers(
    subscribed,
):
    """A peer hub's member subscribes as application `peer.<instance>`; the peer's request is
    checked when it subscribes (services/federation.py), and again at each publication: a
    subscription made before the record existed, or whose member is now recorded as this hub's
    own or another peer's, receives nothing (docs/federation.md, "What a pin trusts")."""
    world = subscribed
    via_a = Caller(WELFARE, "peer.A")  # as PeerMutations.subscribe makes it (pull: no webhook)
    await world.mutations.subscribe(via_a, TYPE, "SOCIAL_INTEGRATION", None, "pull", None)
    await world.mutations.publish(REGISTER, TYPE, move("m-1"))
    assert await world.mutations.mailbox(via_a, 0, 10) == []  # our own member: not A's
    assert len(await world.mutations.mailbox(WELFARE_APP, 0, 10)) == 1  # its own still does
    await world.registry.record_peer(WELFARE, "B")  # not pinned in this world's registry check
    await world.mutations.publish(REGISTER, TYPE, move("m-2"))
    assert await world.mutations.mailbox(via_a, 0, 10) == []  # another peer's member
    await world.registry.record_peer(WELFARE, "A")
    await world.mutations.publish(REGISTER, TYPE, move("m-3"))
    assert [orjson.loads(m.message)["id"] for m in await world.mutations.mailbox(via_a, 0, 10)] == [
        "m-3"
    ]


async def test_no_registered_application_may_take_a_peers_application_code(world):
    await seed_identity(world)
    with pytest.raises(Refusal) as refused:
        await world.registry.put_application(Application(WELFARE, "peer.A", "Looks like a peer"))
    assert (refused.value.code, refused.value.field) == ("malformed_request", "code")


async def test_a_push_queued_for_a_peer_no_longer_holding_its_member_is_refused(subscribed):
    """What was queued for a peer's subscription before the member's record changed is not
    pushed: each push is checked (MutationService.check_push), refused `not_peer_member`."""
    world = subscribed
    via_a = Subscription("s-a", WELFARE, "peer.A", TYPE, "ISC/25/301", "push", "https://a.test/in")
    with pytest.raises(Refusal) as refused:
        await world.mutations.check_push(via_a)
    assert refused.value.code == "not_peer_member"
    await world.registry.record_peer(WELFARE, "B")
    with pytest.raises(Refusal) as refused:
        await world.mutations.check_push(via_a)
    assert refused.value.code == "not_peer_member"
