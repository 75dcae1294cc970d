"""Four eyes on what lets an institution act or receive persons' data: an application's key it did
not have (a token signed with it is refused until another operator approves), a member's new
provider address, webhook base or peer hub, a new member with any of them. What only takes away
(disabling an application, removing a key or an address) or only renames is applied at once.
Approval checks the entry again, as it is then."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import psycopg
import pytest

from crossroads.adapters.federation_folder import FederationFolder
from crossroads.adapters.keys import generate_application_key, public_jwk
from crossroads.demo import country
from crossroads.domain.federation import PeerPin

from ..conftest import drop_postgres_database, fresh_postgres_database, start_demo_hub
from ..support import token_form
from .test_operators import ADMIN, records, register, signed_in

pytestmark = pytest.mark.anyio
WELFARE = country.BY_KEY["welfare"].number
APP = f"/admin/institutions/{WELFARE}/applications/case-app"
REGISTER = country.BY_KEY["nr"].number  # a provider: it has an address
MEMBER = f"/admin/institutions/{REGISTER}"


@pytest.fixture
async def four_eyes_demo(tmp_path):
    """With peer hub `hub-b` pinned, so that a member may be recorded as its."""
    keys = {"keys": [public_jwk(generate_application_key())]}
    FederationFolder(tmp_path / "federation").write_pin(
        PeerPin("hub-b", "https://hub-b.example", keys)
    )
    demo = await start_demo_hub(tmp_path, persons=20, demo=True, four_eyes=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


class Operator:
    """A signed-in operator's browser, sending its session's CSRF token with every change."""

    def __init__(self, browser: httpx.AsyncClient, csrf: str) -> None:
        self.browser, self.csrf = browser, csrf

    async def get(self, path: str) -> httpx.Response:
        return await self.browser.get(path)

    async def put(self, path: str, body: dict) -> httpx.Response:
        return await self.browser.put(path, json=body, headers={"X-CSRF-Token": self.csrf})

    async def decide(self, proposal: dict, decision: str = "approve") -> httpx.Response:
        return await self.browser.post(
            f"/admin/proposals/{proposal['id']}/{decision}", headers={"X-CSRF-Token": self.csrf}
        )


async def editor_and_approver(demo) -> tuple[Operator, Operator]:
    await register(demo, "person:alice", "registry-editor", "approver")
    await register(demo, "person:bob", "approver")
    return Operator(*await signed_in(demo, "alice")), Operator(*await signed_in(demo, "bob"))


async def token_with(demo, private_key: dict) -> httpx.Response:
    return await demo.http.post(
        "/oauth/token", data=token_form(demo.welfare, private_key, "http://hub.test/oauth/token")
    )


async def test_a_key_of_ones_own_is_usable_only_once_another_operator_approves(four_eyes_demo):
    demo = four_eyes_demo
    alice, bob = await editor_and_approver(demo)
    application = (await alice.get(APP)).json()
    mine = generate_application_key()
    keys = {"keys": [*application["jwks"]["keys"], public_jwk(mine)]}

    proposed = await alice.put(APP, {"name": application["name"], "jwks": keys})
    assert proposed.status_code == 202, proposed.text
    proposal = proposed.json()
    assert (proposal["kind"], proposal["key"]) == ("application", f"{WELFARE}:case-app")
    assert proposal["body"]["previous"]["jwks"] == application["jwks"]
    assert (await alice.get(APP)).json()["jwks"] == application["jwks"]
    assert (await token_with(demo, mine)).status_code != 200

    own = await alice.decide(proposal)
    assert own.status_code == 403 and own.json()["code"] == "own_proposal"
    approved = await bob.decide(proposal)
    assert approved.status_code == 200, approved.text
    assert (await alice.get(APP)).json()["jwks"] == keys
    assert (await token_with(demo, mine)).status_code == 200

    steps = [
        (r.action, r.actor, r.detail.get("proposal"), r.detail.get("proposed_by"))
        for r in await records(demo)
        if r.action.startswith("proposal.")
        or (r.action.startswith("application.") and r.actor == "person:bob")
    ]
    assert steps == [
        ("proposal.create", "person:alice", None, "person:alice"),
        ("proposal.approve", "person:bob", None, "person:alice"),
        ("application.update", "person:bob", proposal["id"], "person:alice"),
    ]
    # A new application with keys is proposed too: it signs as the institution.
    new = await alice.put(
        f"/admin/institutions/{WELFARE}/applications/side-door",
        {"name": "Side door", "jwks": {"keys": [public_jwk(generate_application_key())]}},
    )
    assert new.status_code == 202 and new.json()["body"]["previous"] is None
    gone = await alice.get(f"/admin/institutions/{WELFARE}/applications/side-door")
    assert gone.status_code == 404
    for operator in (alice, bob):
        await operator.browser.aclose()


async def test_what_only_takes_away_is_applied_at_once(four_eyes_demo):
    demo = four_eyes_demo
    alice, bob = await editor_and_approver(demo)
    application = (await alice.get(APP)).json()
    seeded_key = demo.private_key(demo.welfare)

    disabled = await alice.put(APP, {**_application_in(application), "active": False})
    assert disabled.status_code == 200, disabled.text
    assert (await token_with(demo, seeded_key)).status_code != 200
    enabled = await alice.put(APP, _application_in(application))  # its keys usable again
    assert enabled.status_code == 202 and enabled.json()["body"]["active"] is True
    assert (await bob.decide(enabled.json())).status_code == 200
    assert (await token_with(demo, seeded_key)).status_code == 200

    # Replacing a key under the same kid is a new key; removing one is not.
    other = {**public_jwk(generate_application_key()), "kid": "second"}
    seeded = application["jwks"]["keys"]
    added = await alice.put(APP, {"name": application["name"], "jwks": {"keys": [*seeded, other]}})
    assert added.status_code == 202
    assert (await bob.decide(added.json())).status_code == 200
    replaced = {**public_jwk(generate_application_key()), "kid": "second"}
    swapped = await alice.put(
        APP, {"name": application["name"], "jwks": {"keys": [*seeded, replaced]}}
    )
    assert swapped.status_code == 202
    assert (await alice.decide(swapped.json(), "reject")).status_code == 200  # withdrawn
    removed = await alice.put(APP, _application_in(application))
    assert removed.status_code == 200 and len(removed.json()["jwks"]["keys"]) == 1
    renamed = await alice.put(APP, {**_application_in(application), "name": "Casework"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Casework"

    member = (await alice.get(MEMBER)).json()
    assert member["base_url"]
    unaddressed = await alice.put(MEMBER, {**_member_in(member), "base_url": None})
    assert unaddressed.status_code == 200 and unaddressed.json()["base_url"] is None
    named = await alice.put(MEMBER, {**_member_in(member), "base_url": None, "name": "Register"})
    assert named.status_code == 200 and named.json()["name"] == "Register"
    bare = await alice.put("/admin/institutions/0300000115", {"name": "New, no addresses"})
    assert bare.status_code == 201, bare.text
    assert (await bob.get("/admin/proposals?state=pending")).json() == []
    for operator in (alice, bob):
        await operator.browser.aclose()


async def test_a_members_new_address_webhook_base_or_peer_waits_for_approval(four_eyes_demo):
    demo = four_eyes_demo
    alice, bob = await editor_and_approver(demo)
    member = (await alice.get(MEMBER)).json()

    changes = {
        "base_url": "https://collector.example/api",
        "webhook_bases": [*member["webhook_bases"], "https://collector.example/hooks"],
        "peer": "hub-b",
    }
    proposals = []
    for name, value in changes.items():
        answer = await alice.put(MEMBER, {**_member_in(member), name: value})
        assert answer.status_code == 202, (name, answer.text)
        assert answer.json()["kind"] == "institution" and answer.json()["key"] == REGISTER
        proposals.append(answer.json())
    assert (await alice.get(MEMBER)).json() == member
    created = await alice.put(
        "/admin/institutions/0300000214",
        {"name": "New", "base_url": "https://collector.example/api"},
    )
    assert created.status_code == 202, created.text
    assert (await alice.get("/admin/institutions/0300000214")).status_code == 404

    own = await alice.decide(proposals[0])
    assert own.status_code == 403 and own.json()["code"] == "own_proposal"
    assert (await bob.decide(proposals[0])).status_code == 200
    assert (await alice.get(MEMBER)).json()["base_url"] == changes["base_url"]
    applied = [r for r in await records(demo) if r.action == "institution.update"]
    assert (applied[-1].actor, applied[-1].detail["proposal"]) == ("person:bob", proposals[0]["id"])
    assert applied[-1].detail["proposed_by"] == "person:alice"

    # The others were made against the member as it was: approving one now would undo the
    # address just approved, so it is refused and stays pending (the approver rejects it).
    stale = await bob.decide(proposals[2])
    assert stale.status_code == 409 and stale.json()["code"] == "conflict"
    assert (await alice.get(MEMBER)).json()["peer"] is None
    pending = (await bob.get("/admin/proposals?state=pending")).json()
    assert proposals[2]["id"] in [p["id"] for p in pending]
    assert (await bob.decide(created.json())).status_code == 200
    assert (await alice.get("/admin/institutions/0300000214")).status_code == 200
    for operator in (alice, bob):
        await operator.browser.aclose()


async def test_approval_checks_the_application_as_it_is_then(four_eyes_demo):
    demo = four_eyes_demo
    alice, bob = await editor_and_approver(demo)
    application = (await alice.get(APP)).json()
    added = await alice.put(
        APP,
        {
            "name": application["name"],
            "jwks": {
                "keys": [*application["jwks"]["keys"], public_jwk(generate_application_key())]
            },
        },
    )
    assert added.status_code == 202
    # Meanwhile the application is disabled (at once): approving the key would enable it again.
    disabled = await demo.http.put(
        APP, headers=ADMIN, json={**_application_in(application), "active": False}
    )
    assert disabled.status_code == 200
    refused = await bob.decide(added.json())
    assert refused.status_code == 409 and refused.json()["code"] == "conflict"
    now = (await alice.get(APP)).json()
    assert now["active"] is False and now["jwks"] == application["jwks"]

    # A new application for a member removed meanwhile: refused, as the API would now.
    assert (await alice.put("/admin/institutions/0300000313", {"name": "Short-lived"})).is_success
    proposed = await alice.put(
        "/admin/institutions/0300000313/applications/app",
        {"name": "App", "jwks": {"keys": [public_jwk(generate_application_key())]}},
    )
    assert proposed.status_code == 202
    removed = await alice.browser.delete(
        "/admin/institutions/0300000313", headers={"X-CSRF-Token": alice.csrf}
    )
    assert removed.status_code == 204
    missing = await bob.decide(proposed.json())
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    for operator in (alice, bob):
        await operator.browser.aclose()


def _application_in(application: dict) -> dict:
    return {"name": application["name"], "jwks": application["jwks"]}


def _member_in(member: dict) -> dict:
    return {k: member[k] for k in ("name", "member_class", "base_url", "webhook_bases", "peer")}


async def test_a_service_sent_to_another_institution_waits_for_approval(four_eyes_demo):
    demo = four_eyes_demo
    alice, bob = await editor_and_approver(demo)
    services = (await alice.get("/admin/services")).json()
    identity = next(s for s in services if s["code"] == "person.identity")
    path = f"/admin/services/person.identity/{identity['version']}"
    elsewhere = country.BY_KEY["fund_a"].number
    assert identity["provider"] not in (None, elsewhere)

    moved = await alice.put(path, {**_service_in(identity), "provider": elsewhere})
    assert moved.status_code == 202, moved.text
    assert moved.json()["kind"] == "service" and moved.json()["body"]["previous"] == identity
    assert (await alice.get(path)).json()["provider"] == identity["provider"]
    newer = await alice.put(
        "/admin/services/person.identity/99", {**_service_in(identity), "provider": elsewhere}
    )
    assert newer.status_code == 202, newer.text  # a new version takes the code's requests
    described = await alice.put(path, {**_service_in(identity), "description": "Who they are"})
    assert described.status_code == 200, described.text
    fresh = await alice.put("/admin/services/new.service/1", _service_in(identity))
    assert fresh.status_code == 201, fresh.text  # nothing reaches it before an authorization

    stale = await bob.decide(moved.json())  # made before the description changed
    assert stale.status_code == 409 and stale.json()["code"] == "conflict"
    again = await alice.put(
        path, {**_service_in(identity), "description": "Who they are", "provider": elsewhere}
    )
    approved = await bob.decide(again.json())
    assert approved.status_code == 200, approved.text
    assert (await alice.get(path)).json()["provider"] == elsewhere
    [applied] = [
        r for r in await records(demo) if r.action == "service.update" and r.actor == "person:bob"
    ]
    assert (applied.detail["proposal"], applied.detail["proposed_by"]) == (
        again.json()["id"],
        "person:alice",
    )
    for operator in (alice, bob):
        await operator.browser.aclose()


def _service_in(service: dict) -> dict:
    return {k: v for k, v in service.items() if k not in ("code", "version")}


@pytest.fixture
async def four_eyes_on_postgres(tmp_path):
    """Statements bounded to 2 s, as in production: a write that waits longer fails."""
    url = fresh_postgres_database()
    demo = await start_demo_hub(
        tmp_path, url, persons=20, demo=True, four_eyes=True, store_statement_timeout=2.0
    )
    yield demo, url
    await demo.http.aclose()
    await demo.hub.close()
    drop_postgres_database(url)


@asynccontextmanager
async def changed_elsewhere(url: str, sql: str, params: tuple) -> AsyncIterator[None]:
    """A change another hub process has written and not yet committed, committed on leaving:
    a write of this hub's that waits for its row lands just after it."""
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.transaction():
        await conn.execute(sql, params)
        yield


async def until_a_write_waits(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for _ in range(500):
            found = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if (await found.fetchone())[0]:
                return
            await asyncio.sleep(0.02)
    raise AssertionError("no write of the hub's waited for the row")


async def test_a_change_landing_between_the_check_and_the_write_is_never_undone(
    four_eyes_on_postgres,
):
    """Approval checks the entry, then writes: an application disabled in between (by another
    hub process) stayed disabled only because the write now expects the entry it checked. The
    approval is withdrawn, the proposal waits again, and the log says both. The same for a
    change applied at once: a key removed in between is not put back."""
    demo, url = four_eyes_on_postgres
    alice, bob = await editor_and_approver(demo)
    application = (await alice.get(APP)).json()
    key = public_jwk(generate_application_key())
    added = await alice.put(
        APP,
        {"name": application["name"], "jwks": {"keys": [*application["jwks"]["keys"], key]}},
    )
    assert added.status_code == 202
    disable = "UPDATE applications SET active = 0 WHERE institution = %s AND code = %s"
    async with changed_elsewhere(url, disable, (WELFARE, "case-app")):
        approving = asyncio.create_task(bob.decide(added.json()))
        await until_a_write_waits(url)
    refused = await approving
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "conflict" and "pending again" in refused.json()["message"]
    now = (await alice.get(APP)).json()
    assert now["active"] is False and now["jwks"] == application["jwks"]
    proposal = (await bob.get(f"/admin/proposals/{added.json()['id']}")).json()
    assert proposal["state"] == "pending" and proposal.get("decided_by") is None
    decisions = [r.action for r in await records(demo) if r.target == added.json()["id"]]
    assert decisions == ["proposal.create", "proposal.approve", "proposal.reopen"]

    # Applied at once (a rename keeps the keys): a key removed meanwhile is not put back.
    both = {"keys": [*application["jwks"]["keys"], key]}
    enable = "UPDATE applications SET active = 1, jwks = %s WHERE institution = %s AND code = %s"
    async with changed_elsewhere(url, enable, (json.dumps(both), WELFARE, "case-app")):
        pass
    one = {"keys": application["jwks"]["keys"]}
    remove_key = "UPDATE applications SET jwks = %s WHERE institution = %s AND code = %s"
    async with changed_elsewhere(url, remove_key, (json.dumps(one), WELFARE, "case-app")):
        renaming = asyncio.create_task(alice.put(APP, {"name": "Renamed", "jwks": both}))
        await until_a_write_waits(url)
    refused = await renaming
    assert refused.status_code == 409 and "send it again" in refused.json()["message"]
    assert (await alice.get(APP)).json()["jwks"] == one
    for operator in (alice, bob):
        await operator.browser.aclose()


async def test_an_approval_whose_write_fails_is_withdrawn_not_left_approved(
    four_eyes_on_postgres,
):
    """The approval is recorded, then its write fails (here: it waits for a row another
    process holds past the statement bound): the proposal is pending again, the log says why,
    and the member is as it was; approved with nothing applied, it could never be decided
    again."""
    demo, url = four_eyes_on_postgres
    alice, bob = await editor_and_approver(demo)
    member = (await alice.get(MEMBER)).json()
    proposed = await alice.put(
        MEMBER, {**_member_in(member), "base_url": "https://collector.example/api"}
    )
    assert proposed.status_code == 202, proposed.text
    hold = "UPDATE institutions SET name = name WHERE enterprise_number = %s"
    async with changed_elsewhere(url, hold, (REGISTER,)):
        failed = await bob.decide(proposed.json())
    assert failed.status_code == 503, failed.text
    proposal = (await bob.get(f"/admin/proposals/{proposed.json()['id']}")).json()
    assert proposal["state"] == "pending"
    [reopened] = [
        r
        for r in await records(demo)
        if r.target == proposed.json()["id"] and r.action == "proposal.reopen"
    ]
    assert reopened.detail["reason"] == f"not applied: {failed.json()['code']}"
    assert (await alice.get(MEMBER)).json() == member
    assert (await bob.decide(proposed.json())).status_code == 200  # decided once the row is free
    assert (await alice.get(MEMBER)).json()["base_url"] == "https://collector.example/api"
    for operator in (alice, bob):
        await operator.browser.aclose()


async def test_a_new_version_is_not_written_past_a_reroute_of_the_version_it_was_judged_against(
    four_eyes_on_postgres,
):
    """A new version naming the provider the code's highest version has is applied at once (it
    reroutes nothing); rerouted meanwhile by another process, that highest version is no longer
    what it was judged against, and the new version (which would take the code's requests back
    to the old provider) is refused, not recorded."""
    demo, url = four_eyes_on_postgres
    alice, bob = await editor_and_approver(demo)
    identity = next(
        s for s in (await alice.get("/admin/services")).json() if s["code"] == "person.identity"
    )
    elsewhere = country.BY_KEY["fund_a"].number
    reroute = "UPDATE services SET provider = %s WHERE code = %s AND version = %s"
    async with changed_elsewhere(url, reroute, (elsewhere, "person.identity", identity["version"])):
        adding = asyncio.create_task(
            alice.put("/admin/services/person.identity/99", _service_in(identity))
        )
        await until_a_write_waits(url)
    refused = await adding
    assert refused.status_code == 409 and "send it again" in refused.json()["message"]
    assert (await alice.get("/admin/services/person.identity/99")).status_code == 404
    # Sent again, it is judged against the rerouted version: a proposal now.
    again = await alice.put("/admin/services/person.identity/99", _service_in(identity))
    assert again.status_code == 202, again.text
    for operator in (alice, bob):
        await operator.browser.aclose()
