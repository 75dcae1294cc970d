"""Mutations over HTTP, in-process: the catalogue, subscribing, publishing with fan-out, the
mailbox."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from crossroads.demo import country
from crossroads.domain.audit import AuditRecord

pytestmark = pytest.mark.anyio

TYPE = "test.address-change"  # its own type: the demo's are subscribed to by the demo's apps
NR = country.BY_KEY["nr"].number
PUBLISHER = f"{NR}:register-app"
OPERATOR = {"Authorization": "Bearer operator-secret-for-tests"}


@pytest.fixture
async def hub(demo):
    return await with_test_type(demo)


async def with_test_type(demo):
    """The demo hub, with an address-change mutation type the national register (its demo
    application) publishes and an authorization that lets the welfare centre receive the city
    (only) of persons it assists."""
    answer = await demo.http.put(
        f"/admin/mutation-types/{TYPE}/1",
        headers=OPERATOR,
        json={
            "name": "Change of address",
            "publisher": NR,
            "fields": ["street", "city", "postcode"],
            "schema": {
                "type": "object",
                "required": ["city"],
                "additionalProperties": False,
                "properties": {
                    "street": {"type": "string"},
                    "city": {"type": "string"},
                    "postcode": {"type": "string"},
                },
            },
        },
    )
    assert answer.status_code == 201, answer.text
    answer = await demo.http.put(
        "/admin/authorizations/ISC/25/301",
        headers=OPERATOR,
        json={
            "consumer": country.BY_KEY["welfare"].number,
            "service": TYPE,
            "purpose": "SOCIAL_INTEGRATION",
            "legal_basis": "Law of 26 May 2002, art. 19",
            "required_capacities": ["SOCIAL_ASSISTANCE"],
            "allowed_fields": ["city"],
            "valid_from": "2020-01-01",
        },
    )
    assert answer.status_code == 201, answer.text
    welfare = country.BY_KEY["welfare"]
    answer = await demo.http.put(
        f"/admin/institutions/{welfare.number}",
        headers=OPERATOR,
        json={
            "name": welfare.name,
            "webhook_bases": ["http://hooks.test:8443/", "http://nowhere.test:1/"],
        },
    )
    assert answer.status_code == 200, answer.text
    return demo


async def call(demo, method: str, path: str, client: str, **kwargs):
    token = await demo.token(client)
    return await demo.http.request(
        method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
    )


async def subscribe(demo, client: str | None = None, **body):
    return await call(
        demo,
        "POST",
        "/v1/subscriptions",
        client or demo.welfare,
        json={"mutation_type": TYPE, "purpose": "SOCIAL_INTEGRATION", **body},
    )


async def publish(demo, mutation: dict, client: str = PUBLISHER):
    return await call(demo, "POST", f"/v1/mutations/{TYPE}", client, json=mutation)


def move(
    mutation_id: str, subject: str, effective: date | None = None, city: str = "Namur"
) -> dict:
    return {
        "id": mutation_id,
        "subject": subject,
        "effective_date": (effective or date.today()).isoformat(),
        "payload": {"street": "Rue Haute 1", "city": city, "postcode": "5000"},
    }


async def audit_records(demo) -> list[AuditRecord]:
    return [
        AuditRecord.from_canonical(entry)
        for _, entry in await demo.hub.store.audit.read(0, 100_000)
    ]


async def test_an_entitled_subscriber_pulls_only_its_fields_and_acknowledges(hub):
    assert (await subscribe(hub)).status_code == 201
    assisted = hub.held_by("welfare")[0]
    accepted = await publish(hub, move("m-1", assisted))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json() == {"id": "m-1", "status": "accepted", "recipients": 1}

    box = await call(hub, "GET", "/v1/mailbox", hub.welfare)
    assert box.status_code == 200, box.text
    [message] = box.json()["messages"]
    event = message["event"]
    assert (event["specversion"], event["id"], event["subject"]) == ("1.0", "m-1", assisted)
    assert (
        event["type"] == f"be.crossroads.{TYPE}.v1"
        and event["source"] == f"urn:crossroads:institution:{NR}"
    )
    assert event["data"] == {"city": "Namur"}  # ISC/25/301 allows the city, not the street
    assert box.json()["next_after"] == message["seq"]

    acked = await call(hub, "POST", "/v1/mailbox/ack", hub.welfare, json={"seqs": [message["seq"]]})
    assert acked.json() == {"acknowledged": 1}
    assert (await call(hub, "GET", "/v1/mailbox", hub.welfare)).json()["messages"] == []
    again = await call(hub, "POST", "/v1/mailbox/ack", hub.welfare, json={"seqs": [message["seq"]]})
    assert again.json() == {"acknowledged": 0}

    records = await audit_records(hub)
    [published] = [r for r in records if r.action == "mutation.publish"]
    [delivered] = [r for r in records if r.action == "mutation.deliver"]
    subject_hash = hub.hub.hasher.hex(assisted)
    assert published.subject_hash == delivered.subject_hash == subject_hash
    assert published.detail["recipients"] == [country.BY_KEY["welfare"].number]
    assert (delivered.consumer, delivered.target, delivered.providers) == (
        country.BY_KEY["welfare"].number,
        "m-1",
        (NR,),
    )
    assert assisted not in b"".join(r.canonical() for r in records).decode()
    # The person sees who published the change and who received it, under which authorization.
    history = await hub.hub.history.page(hub.hub.hasher.key(assisted))
    shown = [
        (c.record.action, c.record.consumer, c.legal_basis)
        for c in history.consultations
        if c.record.kind == "mutation"
    ]
    assert shown == [
        ("mutation.deliver", country.BY_KEY["welfare"].number, "Law of 26 May 2002, art. 19"),
        ("mutation.publish", NR, None),
    ]


async def test_the_same_id_is_accepted_once_and_a_different_mutation_under_it_is_refused(hub):
    await subscribe(hub)
    assisted = hub.held_by("welfare")[0]
    assert (await publish(hub, move("m-2", assisted))).status_code == 201
    duplicate = await publish(hub, move("m-2", assisted))
    assert duplicate.status_code == 200 and duplicate.json()["status"] == "duplicate"
    conflict = await publish(hub, move("m-2", assisted, city="Liège"))
    assert conflict.status_code == 409 and conflict.json()["field"] == "id"
    assert len((await call(hub, "GET", "/v1/mailbox", hub.welfare)).json()["messages"]) == 1


async def test_nobody_outside_the_directory_on_the_effective_date_receives_it(hub):
    await subscribe(hub)
    welfare = country.BY_KEY["welfare"].number
    stranger = next(
        s for s in country.persons(400, seed=99) if s not in set(hub.held_by("welfare", phase=None))
    )
    assert (await publish(hub, move("m-3", stranger))).json()["recipients"] == 0
    # The centre ends its file on a person; a change effective after that day is not for it,
    # one effective before it still is.
    assisted = hub.held_by("welfare")[1]
    ended = date.today() - timedelta(days=30)
    await hub.hub.directory.change(
        {
            "op": "end",
            "subject": assisted,
            "institution": welfare,
            "capacity": "SOCIAL_ASSISTANCE",
            "end": ended.isoformat(),
        },
        None,
        "test",
    )
    assert (await publish(hub, move("m-4", assisted))).json()["recipients"] == 0
    assert (await publish(hub, move("m-5", assisted, ended))).json()["recipients"] == 1
    ids = [
        m["event"]["id"]
        for m in (await call(hub, "GET", "/v1/mailbox", hub.welfare)).json()["messages"]
    ]
    assert ids == ["m-5"]


async def test_messages_come_in_publishing_order_and_page_with_after(hub):
    await subscribe(hub)
    assisted = hub.held_by("welfare")[:3]
    for number in range(6):
        assert (
            await publish(hub, move(f"o-{number}", assisted[number % 3], city=f"City {number}"))
        ).status_code == 201
    first = (await call(hub, "GET", "/v1/mailbox?limit=4", hub.welfare)).json()
    rest = (await call(hub, "GET", f"/v1/mailbox?after={first['next_after']}", hub.welfare)).json()
    events = [m["event"] for m in first["messages"] + rest["messages"]]
    assert [e["id"] for e in events] == [f"o-{n}" for n in range(6)]
    assert [e["data"]["city"] for e in events] == [f"City {n}" for n in range(6)]


async def test_subscribing_needs_an_authorization_and_happens_once(hub):
    unemployment = f"{country.BY_KEY['unemployment'].number}:benefits-app"
    refused = await subscribe(hub, unemployment)
    assert refused.status_code == 403 and refused.json()["code"] == "no_authorization"
    assert (await subscribe(hub)).status_code == 201
    again = await subscribe(hub)
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    [mine] = [
        s
        for s in (await call(hub, "GET", "/v1/subscriptions", hub.welfare)).json()
        if s["mutation_type"] == TYPE
    ]
    assert (mine["mutation_type"], mine["authorization"], mine["mode"]) == (
        TYPE,
        "ISC/25/301",
        "pull",
    )
    assert (
        await call(hub, "DELETE", f"/v1/subscriptions/{mine['id']}", unemployment)
    ).status_code == 404
    assert (
        await call(hub, "DELETE", f"/v1/subscriptions/{mine['id']}", hub.welfare)
    ).status_code == 204
    assert (await publish(hub, move("m-6", hub.held_by("welfare")[0]))).json()["recipients"] == 0


@pytest.mark.parametrize(
    "case, client, path, body, status, code, field",
    [
        (
            "another institution publishes",
            "welfare",
            f"/v1/mutations/{TYPE}",
            move("x", "79122244457"),
            403,
            "forbidden",
            "mutation_type",
        ),
        (
            "unknown type",
            PUBLISHER,
            "/v1/mutations/person.unknown",
            move("x", "79122244457"),
            404,
            "unknown_mutation_type",
            "mutation_type",
        ),
        (
            "payload off its schema",
            PUBLISHER,
            f"/v1/mutations/{TYPE}",
            {**move("x", "79122244457"), "payload": {"city": 5}},
            400,
            "malformed_request",
            "payload.city",
        ),
        (
            "bad identifier",
            PUBLISHER,
            f"/v1/mutations/{TYPE}",
            move("x", "79122244458"),
            422,
            "invalid_identifier",
            "subject",
        ),
        (
            "impossible date",
            PUBLISHER,
            f"/v1/mutations/{TYPE}",
            {**move("x", "79122244457"), "effective_date": "2024-02-30"},
            422,
            "invalid_period",
            "effective_date",
        ),
        (
            "unknown field",
            PUBLISHER,
            f"/v1/mutations/{TYPE}",
            {**move("x", "79122244457"), "extra": 1},
            400,
            "malformed_request",
            "extra",
        ),
    ],
)
async def test_bad_publications_are_refused_with_their_code(
    hub, case, client, path, body, status, code, field
):
    response = await call(
        hub, "POST", path, hub.welfare if client == "welfare" else client, json=body
    )
    assert (response.status_code, response.json()["code"], response.json().get("field")) == (
        status,
        code,
        field,
    ), case


async def test_a_batch_reports_each_mutation(hub):
    await subscribe(hub)
    assisted = hub.held_by("welfare")[0]
    response = await call(
        hub,
        "POST",
        f"/v1/mutations/{TYPE}/batch",
        PUBLISHER,
        json={
            "mutations": [
                move("b-1", assisted),
                move("b-1", assisted),
                move("b-2", "79122244458"),
                {"id": "b-3"},
            ]
        },
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "duplicate", "refused", "refused"]
    assert (
        results[2]["error"]["code"] == "invalid_identifier"
        and results[3]["error"]["field"] == "subject"
    )


async def test_a_number_json_allows_but_messages_cannot_carry_is_refused(hub):
    answer = await hub.http.put(
        "/admin/mutation-types/person.note/1",
        headers=OPERATOR,
        json={"name": "Note", "publisher": NR, "fields": ["n"], "schema": {"type": "object"}},
    )
    assert answer.status_code == 201, answer.text
    response = await call(
        hub,
        "POST",
        "/v1/mutations/person.note",
        PUBLISHER,
        json={
            "id": "big",
            "subject": "79122244457",
            "effective_date": "2024-01-01",
            "payload": {"n": 2**70},
        },
    )
    # Refused where the body is read (json_input.read_json), naming the number's place.
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (
        400,
        "malformed_request",
        "payload.n",
    )


class Webhook:
    """A subscriber's webhook (outside the hub): records what it receives, or fails on demand."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.signatures: list[str] = []
        self.failing = False

    async def __call__(self, scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        status = 503 if self.failing else 204
        if not self.failing:
            assert headers[b"content-type"] == b"application/cloudevents-batch+json"
            self.received += json.loads(body)
            self.signatures.append(headers[b"x-crossroads-signature"].decode())
            self.bodies = [*getattr(self, "bodies", []), body]
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def dispatcher(hub, webhook: Webhook, clock, max_attempts: int = 3, batch: int = 100):
    from crossroads.adapters.outbox_queue import OutboxPushQueue
    from crossroads.services.push import PushDispatcher
    from tests.support import AsgiProviderClient

    return PushDispatcher(
        hub.hub.store.mutations,
        OutboxPushQueue(hub.hub.store.mutations),
        AsgiProviderClient({"hooks.test:8443": webhook}),
        hub.hub.keys,
        hub.hub.store.audit,
        clock,
        max_attempts=max_attempts,
        retry_base_seconds=10,
        retry_max_seconds=60,
        batch=batch,
        jitter=lambda: 1.0,
    )


async def test_push_delivers_signed_batches_in_order_retries_and_sets_dead_letters_aside(hub):
    from joserfc.jwk import KeySet

    from crossroads.adapters.keys import verify_detached
    from crossroads.services.clock import FixedClock

    webhook, clock = Webhook(), FixedClock(1_800_000_000.0)
    subscribed = await subscribe(hub, mode="push", webhook_url="http://hooks.test:8443/events")
    assert subscribed.status_code == 201, subscribed.text
    assisted = hub.held_by("welfare")[:2]
    push = dispatcher(hub, webhook, clock, batch=2)
    for number in range(3):
        await publish(hub, move(f"p-{number}", assisted[number % 2], city=f"City {number}"))
    assert (
        await push.deliver_due() == 2
        and await push.deliver_due() == 1
        and await push.deliver_due() == 0
    )
    assert [e["id"] for e in webhook.received] == ["p-0", "p-1", "p-2"]
    assert all(set(e["data"]) == {"city"} for e in webhook.received)
    header = verify_detached(
        webhook.signatures[0], webhook.bodies[0], KeySet.import_key_set(hub.hub.keys.jwks())
    )
    assert header["aud"] == "http://hooks.test:8443/events"
    assert (await call(hub, "GET", "/v1/mailbox", hub.welfare)).json()[
        "messages"
    ] == []  # push, not pull

    # The webhook fails: the message waits (10 s, then 20 s), nothing behind it overtakes it, and
    # after the third attempt both are dead letters the operator sees and can replay.
    webhook.failing = True
    await publish(hub, move("p-3", assisted[0]))
    await publish(hub, move("p-4", assisted[1]))
    assert await push.deliver_due() == 0
    clock.at += 5
    assert await push.deliver_due() == 0  # not due yet: no attempt made
    clock.at += 5
    assert await push.deliver_due() == 0  # the second attempt, 10 s after the first
    clock.at += 20
    assert await push.deliver_due() == 0
    dead = (await hub.http.get("/admin/dead-letters", headers=OPERATOR)).json()
    assert [(d["mutation_id"], d["attempts"]) for d in dead] == [("p-3", 3), ("p-4", 3)]
    assert dead[0]["last_error"].startswith("provider_error")
    pages = [
        (await hub.http.get(f"/admin/dead-letters?limit=1&after={after}", headers=OPERATOR)).json()
        for after in (0, dead[0]["seq"], dead[1]["seq"])
    ]  # paged by the last seq of the page before
    assert pages == [dead[:1], dead[1:], []]
    refused = await hub.http.get("/admin/dead-letters?after=-1", headers=OPERATOR)
    assert refused.status_code == 400 and refused.json()["code"] == "malformed_request"
    webhook.failing = False
    replayed = await hub.http.post(
        "/admin/dead-letters/replay", headers=OPERATOR, json={"seqs": [d["seq"] for d in dead]}
    )
    assert replayed.json() == {"replayed": 2}
    assert await push.deliver_due() == 2
    assert [e["id"] for e in webhook.received] == ["p-0", "p-1", "p-2", "p-3", "p-4"]

    records = await audit_records(hub)
    assert [r.target for r in records if r.action == "mutation.deliver"] == [
        "p-0",
        "p-1",
        "p-2",
        "p-3",
        "p-4",
    ]
    assert [(r.target, r.outcome) for r in records if r.action == "mutation.push_failed"] == [
        ("p-3", "provider_error"),
        ("p-4", "provider_error"),
    ] * 2
    assert [r.target for r in records if r.action == "mutation.dead_letter"] == ["p-3", "p-4"]


async def test_an_unreachable_webhook_is_a_failed_attempt_not_a_crash(hub):
    from crossroads.services.clock import FixedClock

    await subscribe(hub, mode="push", webhook_url="http://nowhere.test:1/events")
    await publish(hub, move("u-1", hub.held_by("welfare")[0]))
    push = dispatcher(hub, Webhook(), FixedClock(1_800_000_000.0))
    assert await push.deliver_due() == 0
    [failed] = [r for r in await audit_records(hub) if r.action == "mutation.push_failed"]
    assert failed.outcome == "provider_unavailable"


async def test_integrating_with_sync_sends_the_current_state_to_the_new_holder_only(hub):
    welfare = country.BY_KEY["welfare"].number
    newcomer = next(
        s for s in country.persons(400, seed=99) if s not in set(hub.held_by("welfare", phase=None))
    )
    token = await hub.token(hub.welfare)
    answer = await hub.http.post(
        "/v1/directory/changes",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "subject": newcomer,
            "capacity": "SOCIAL_ASSISTANCE",
            "start": date.today().isoformat(),
            "sync": True,
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "status": "applied",
        "synchronised": 1,
    }  # the demo's address changes: the one with a state
    [message] = [
        m
        for m in (await call(hub, "GET", "/v1/mailbox", hub.welfare)).json()["messages"]
        if m["event"]["subject"] == newcomer
    ]
    event = message["event"]
    assert (
        event["initialsync"] is True and event["type"] == "be.crossroads.person.address-change.v1"
    )
    assert event["data"] == country.current_address(
        newcomer
    )  # ISC/25/401 allows street, postcode and city
    [synced] = [r for r in await audit_records(hub) if r.action == "mutation.sync"]
    assert (synced.consumer, synced.outcome, synced.subject_hash) == (
        welfare,
        "ok",
        hub.hub.hasher.hex(newcomer),
    )
    refused = await hub.http.post(
        "/v1/directory/changes",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "op": "end",
            "subject": newcomer,
            "capacity": "SOCIAL_ASSISTANCE",
            "end": date.today().isoformat(),
            "sync": True,
        },
    )
    assert (refused.status_code, refused.json()["field"]) == (400, "sync")


async def test_a_source_that_cannot_answer_the_state_is_audited_and_the_integration_stands(hub):
    answer = await hub.http.put(
        f"/admin/mutation-types/{TYPE}/1",
        headers=OPERATOR,
        json={
            "name": "Change of address",
            "publisher": NR,
            "fields": ["street", "city", "postcode"],
            "state_path": "/mutations/not-served/state",
        },
    )
    assert answer.status_code == 200, answer.text
    assert (await subscribe(hub)).status_code == 201
    newcomer = next(
        s for s in country.persons(400, seed=98) if s not in set(hub.held_by("welfare", phase=None))
    )
    token = await hub.token(hub.welfare)
    answer = await hub.http.post(
        "/v1/directory/changes",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "subject": newcomer,
            "capacity": "SOCIAL_ASSISTANCE",
            "start": "2024-01-01",
            "sync": True,
        },
    )
    assert answer.json() == {
        "status": "applied",
        "synchronised": 1,
    }  # the demo's address type still answers
    failed = [
        r for r in await audit_records(hub) if r.action == "mutation.sync" and r.outcome != "ok"
    ]
    assert [(r.service, r.outcome) for r in failed] == [(TYPE, "provider_error")]
    assert [i.institution for i in await hub.hub.directory.holders(newcomer)] == [
        country.BY_KEY["welfare"].number
    ]


async def test_the_govstack_pull_and_confirm_shape(hub):
    await subscribe(hub)
    assisted = hub.held_by("welfare")[:2]
    for number, subject in enumerate(assisted):
        await publish(hub, move(f"g-{number}", subject))
    room = f"/r1/{hub.settings.instance}/GOV/{NR}/register-app/pull/v1/{TYPE}"
    first = await call(hub, "GET", room, hub.welfare)
    assert first.status_code == 200, first.text
    item = first.json()
    assert (item["id"], item["eventType"], item["publisherId"]["memberCode"]) == ("g-0", TYPE, NR)
    assert item["event"]["data"] == {"city": "Namur"} and isinstance(item["sequence"], int)
    assert (await call(hub, "DELETE", f"{room}/g-0", hub.welfare)).status_code == 204
    assert (await call(hub, "DELETE", f"{room}/g-0", hub.welfare)).status_code == 404
    assert (await call(hub, "GET", room, hub.welfare)).json()["id"] == "g-1"
    assert (await call(hub, "DELETE", f"{room}/g-1", hub.welfare)).status_code == 204
    assert (await call(hub, "GET", room, hub.welfare)).status_code == 404
    elsewhere = f"/r1/{hub.settings.instance}/GOV/0200000439/x/pull/v1/{TYPE}"
    assert (await call(hub, "GET", elsewhere, hub.welfare)).json()["code"] == "not_found"
    delivered = [r.target for r in await audit_records(hub) if r.action == "mutation.deliver"]
    assert delivered == ["g-0", "g-1"]


async def test_a_dropped_dead_letter_is_never_sent_again_and_the_drop_is_audited(hub):
    from crossroads.services.clock import FixedClock

    webhook, clock = Webhook(), FixedClock(1_800_000_000.0)
    subscribed = await subscribe(hub, mode="push", webhook_url="http://hooks.test:8443/events")
    assert subscribed.status_code == 201, subscribed.text
    push = dispatcher(hub, webhook, clock, batch=2)
    webhook.failing = True
    await publish(hub, move("d-0", hub.held_by("welfare")[0]))
    for wait in (0, 10, 20):
        clock.at += wait
        assert await push.deliver_due() == 0
    [dead] = (await hub.http.get("/admin/dead-letters", headers=OPERATOR)).json()
    dropped = await hub.http.post(
        "/admin/dead-letters/drop", headers=OPERATOR, json={"seqs": [dead["seq"], 999_999]}
    )
    assert dropped.status_code == 200 and dropped.json() == {"dropped": 1}, dropped.text
    assert (await hub.http.get("/admin/dead-letters", headers=OPERATOR)).json() == []
    webhook.failing = False
    replayed = await hub.http.post(
        "/admin/dead-letters/replay", headers=OPERATOR, json={"seqs": [dead["seq"]]}
    )
    assert replayed.json() == {"replayed": 0}  # given up for good: not a dead letter any more
    clock.at += 3600
    assert await push.deliver_due() == 0 and webhook.received == []
    [record] = [r for r in await audit_records(hub) if r.action == "mutation.drop"]
    assert record.detail == {"seqs": [dead["seq"], 999_999], "dropped": 1}
