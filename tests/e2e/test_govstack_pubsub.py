"""The GovStack Information Mediator Pub/Sub API, its 14 operations at their GovStack paths,
over the hub's mutation service: the room the path names is checked, never echoed."""

from __future__ import annotations

from datetime import date

import pytest

from crossroads.demo import country

from .test_mutations_api import NR, OPERATOR, PUBLISHER, TYPE, audit_records, with_test_type

pytestmark = pytest.mark.anyio
WELFARE = country.BY_KEY["welfare"].number
PURPOSE = {"X-Crossroads-Purpose": "SOCIAL_INTEGRATION"}


@pytest.fixture
async def hub(demo):
    return await with_test_type(demo)


def room(demo, member_class: str = "GOV", member: str = NR, app: str = "register-app") -> str:
    return f"/r1/{demo.settings.instance}/{member_class}/{member}/{app}"


async def as_app(demo, method: str, path: str, client: str, headers: dict | None = None, **kw):
    token = await demo.token(client)
    return await demo.http.request(
        method, path, headers={"Authorization": f"Bearer {token}", **(headers or {})}, **kw
    )


async def test_the_operator_manages_a_rooms_event_types(hub):
    types = f"{room(hub)}/api/v1/eventType"
    birth = {
        "eventType": "test.birth",
        "schema": {"type": "object", "properties": {"dateTime": {"type": "string"}}},
    }
    created = await hub.http.post(types, headers=OPERATOR, json=birth)
    assert created.status_code == 200, created.text
    assert created.json()["eventType"] == "test.birth" and created.json()["fields"] == ["dateTime"]
    assert (await hub.http.post(types, headers=OPERATOR, json=birth)).status_code == 409
    by_a_member = await as_app(hub, "POST", types, PUBLISHER, json={**birth, "eventType": "x.y"})
    assert by_a_member.status_code == 403
    listed = await as_app(hub, "GET", types, hub.welfare)
    assert listed.status_code == 200 and {"test.birth", TYPE} <= set(listed.json())
    empty = await as_app(
        hub, "GET", f"{room(hub, member=WELFARE, app='case-app')}/api/v1/eventType", hub.welfare
    )
    assert empty.status_code == 204
    one = await as_app(hub, "GET", f"{types}/test.birth", hub.welfare)
    assert one.json()["schema"] == birth["schema"]
    assert (await hub.http.delete(f"{types}/test.birth", headers=OPERATOR)).status_code == 204
    assert (await as_app(hub, "GET", f"{types}/test.birth", hub.welfare)).status_code == 204
    named = await hub.http.delete(f"{types}/{TYPE}", headers=OPERATOR)  # an authorization names it
    assert named.status_code == 409 and named.json()["code"] == "conflict"
    actions = [(r.action, r.target) for r in await audit_records(hub) if r.kind == "registry"]
    assert ("mutation_type.create", "test.birth/1") in actions
    assert ("mutation_type.delete", "test.birth") in actions


@pytest.mark.parametrize(
    "member_class, member, app",
    [("COM", NR, "register-app"), ("GOV", NR, "no-such-app"), ("GOV", "0200000439", "x")],
)
async def test_a_room_the_registry_does_not_have_is_not_found(hub, member_class, member, app):
    for method, path in [
        ("GET", "/api/v1/eventType"),
        ("GET", "/api/v1/subs"),
        ("GET", f"/pull/v1/{TYPE}"),
        ("POST", f"/pub/v1/{TYPE}"),
    ]:
        answer = await as_app(
            hub,
            method,
            room(hub, member_class, member, app) + path,
            PUBLISHER,
            json={"eventType": TYPE, "event": {"subject": "x", "effective_date": "2026-01-01"}},
        )
        assert answer.status_code == 404 and answer.json()["code"] == "not_found", path


async def test_subscribe_publish_pull_confirm_through_the_govstack_paths(hub):
    subs = f"{room(hub)}/api/v1/subs"
    no_purpose = await as_app(hub, "POST", f"{subs}/{TYPE}", hub.welfare, json={"delivery": "PULL"})
    assert no_purpose.status_code == 400 and no_purpose.json()["field"] == "purpose"
    added = await as_app(
        hub, "POST", f"{subs}/{TYPE}", hub.welfare, PURPOSE, json={"delivery": "PULL"}
    )
    assert added.status_code == 200, added.text
    item = added.json()
    assert (item["eventType"], item["delivery"], item["subscriberId"]["memberCode"]) == (
        TYPE,
        "PULL",
        WELFARE,
    )
    again = await as_app(
        hub, "POST", f"{subs}/{TYPE}", hub.welfare, PURPOSE, json={"delivery": "PULL"}
    )
    assert again.status_code == 409
    mine = (await as_app(hub, "GET", subs, hub.welfare)).json()
    published_here = {
        t.code for t in await hub.hub.registry_queries.mutation_types() if t.publisher == NR
    }
    assert item in mine and {s["eventType"] for s in mine} <= published_here
    elsewhere = f"{room(hub, member=country.BY_KEY['employment'].number)}/api/v1/subs"
    assert item["id"] not in [
        s["id"] for s in (await as_app(hub, "GET", elsewhere, hub.welfare)).json()
    ]
    assert (await as_app(hub, "GET", f"{subs}/{TYPE}", hub.welfare)).json() == item
    to_push = await as_app(hub, "PATCH", f"{subs}/{TYPE}", hub.welfare, json={"delivery": "PUSH"})
    assert to_push.status_code == 409
    patched = await as_app(
        hub, "PATCH", f"{subs}/{TYPE}", hub.welfare, json={"authorization": "ISC/25/301"}
    )
    assert patched.status_code == 201 and patched.json()["authorization"] == "ISC/25/301"

    pub = f"{room(hub)}/pub/v1/{TYPE}"
    event = {
        "subject": hub.held_by("welfare")[0],
        "effective_date": date.today().isoformat(),
        "payload": {"street": "Rue Haute 1", "city": "Namur", "postcode": "5000"},
    }
    by_other = await as_app(hub, "POST", pub, hub.welfare, json={"eventType": TYPE, "event": event})
    assert by_other.status_code == 403  # the room is the publisher's, not the caller's
    mismatch = await as_app(hub, "POST", pub, PUBLISHER, json={"eventType": "x", "event": event})
    assert mismatch.status_code == 400
    published = await as_app(hub, "POST", pub, PUBLISHER, json={"eventType": TYPE, "event": event})
    assert published.status_code == 201, published.text
    event_id = published.json()["id"]
    status = await as_app(hub, "GET", f"{pub}/{event_id}", PUBLISHER)
    assert status.status_code == 200 and status.json()["publisherId"]["memberCode"] == NR
    assert (await as_app(hub, "GET", f"{pub}/nope", PUBLISHER)).status_code == 404
    stop = await as_app(hub, "DELETE", f"{pub}/{event_id}", PUBLISHER)
    assert stop.status_code == 409 and stop.json()["code"] == "conflict"

    pull = f"{room(hub)}/pull/v1/{TYPE}"
    pulled = await as_app(hub, "GET", pull, hub.welfare)
    assert pulled.status_code == 200 and pulled.json()["id"] == event_id
    assert pulled.json()["event"]["data"] == {"city": "Namur"}
    assert (await as_app(hub, "DELETE", f"{pull}/{event_id}", hub.welfare)).status_code == 204
    assert (await as_app(hub, "GET", pull, hub.welfare)).status_code == 404

    assert (await as_app(hub, "DELETE", f"{subs}/{TYPE}", hub.welfare)).status_code == 204
    assert (await as_app(hub, "GET", f"{subs}/{TYPE}", hub.welfare)).status_code == 404
    actions = [
        r.action
        for r in await audit_records(hub)
        if r.target == item["id"] and r.action and r.action.startswith("subscription.")
    ]
    assert actions == ["subscription.create", "subscription.update", "subscription.delete"]


async def test_a_push_subscription_through_govstack_names_an_allowed_webhook(hub):
    subs = f"{room(hub)}/api/v1/subs/{TYPE}"
    elsewhere = await as_app(
        hub,
        "POST",
        subs,
        hub.welfare,
        PURPOSE,
        json={"delivery": "PUSH", "webhookUrl": "https://attacker.example/hook"},
    )
    assert elsewhere.status_code == 422 and elsewhere.json()["code"] == "webhook_not_allowed"
