"""Four eyes are two different people already trusted: with four eyes on, what lets someone act
as an operator or approve (a new operator or service account, a role or a key it did not have, a
disabled one enabled again) waits for another operator's approval, as a registry change does,
through the admin API and the operators' form alike. An approver never approves what empowers
themselves, nor a proposal of the operator who set them up (or whom they set up); what only
takes away is applied at once. A pending proposal expires after the hub's proposal lifetime.
The command line on the store (here: `register`, as `crossroads operators put`) stays outside."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from crossroads.adapters.keys import generate_application_key, public_jwk
from crossroads.adapters.sql.store import open_store
from crossroads.domain.operators import Actor, Role
from crossroads.domain.operators import Operator as OperatorEntry
from crossroads.entrypoints.cli import app

from ..conftest import start_demo_hub
from ..support import token_form
from .test_four_eyes_members import (
    Operator,
    changed_elsewhere,
    four_eyes_on_postgres,  # noqa: F401 (the fixture)
    until_a_write_waits,
)
from .test_operators import ADMIN, authorization, records, register, signed_in

pytestmark = pytest.mark.anyio
TOKEN_URL = "http://hub.test/oauth/token"
runner = CliRunner()


@pytest.fixture
async def four_eyes_demo(tmp_path, store_url):
    """On each store: operators' proposals, their `previous`, and the approved ones read back."""
    demo = await start_demo_hub(tmp_path, store_url, persons=20, demo=True, four_eyes=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


async def admin_and_approvers(demo) -> tuple[Operator, Operator, Operator]:
    """alice (admin), bob and carol (approvers): set up on the store, outside four eyes."""
    await register(demo, "person:alice", "admin")
    await register(demo, "person:bob", "approver")
    await register(demo, "person:carol", "approver")
    return (
        Operator(*await signed_in(demo, "alice")),
        Operator(*await signed_in(demo, "bob")),
        Operator(*await signed_in(demo, "carol")),
    )


async def bearer_of(demo, account: str, private: dict) -> dict:
    issued = await demo.http.post("/oauth/token", data=token_form(account, private, TOKEN_URL))
    assert issued.status_code == 200, issued.text
    return {"Authorization": f"Bearer {issued.json()['access_token']}"}


async def test_an_admin_cannot_make_themselves_a_second_pair_of_eyes(four_eyes_demo):
    demo = four_eyes_demo
    alice, bob, carol = await admin_and_approvers(demo)
    private = generate_application_key()
    mine = {"roles": ["approver"], "jwks": {"keys": [public_jwk(private)]}}

    # The finding: an admin's service account with a key they hold, and the role to approve.
    proposed = await alice.put("/admin/operators/service:mine", mine)
    assert proposed.status_code == 202, proposed.text
    assert (proposed.json()["kind"], proposed.json()["key"]) == ("operator", "service:mine")
    assert proposed.json()["body"]["previous"] is None
    assert (await alice.get("/admin/operators/service:mine")).status_code == 404
    refused = await demo.http.post(
        "/oauth/token", data=token_form("service:mine", private, TOKEN_URL)
    )
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_client"
    # The static admin token, and a second person id, are no way round.
    by_token = await demo.http.put("/admin/operators/service:mine-2", headers=ADMIN, json=mine)
    assert by_token.status_code == 202, by_token.text
    second = await alice.put("/admin/operators/person:alice-2", {"roles": ["approver"]})
    assert second.status_code == 202, second.text
    assert (await alice.decide(second.json())).json()["code"] == "own_proposal"

    # A busy colleague approves the account once; it still cannot approve alice's proposals,
    # nor may alice approve the account's.
    assert (await bob.decide(proposed.json())).status_code == 200
    applied = [r for r in await records(demo) if r.action == "operator.create"]
    assert (applied[-1].target, applied[-1].actor) == ("service:mine", "person:bob")
    assert applied[-1].detail["proposed_by"] == "person:alice"
    account = await bearer_of(demo, "service:mine", private)
    change = await alice.put("/admin/authorizations/ISC/26/031", authorization("ISC/26/031"))
    assert change.status_code == 202, change.text
    path = f"/admin/proposals/{change.json()['id']}/approve"
    theirs = await demo.http.post(path, headers=account)
    assert theirs.status_code == 403 and theirs.json()["code"] == "approver_not_person"
    from_account = await demo.http.put(
        "/admin/integration-rights/0123456789/X", headers=account, json={}
    )
    assert from_account.status_code == 403  # an approver edits nothing; alice approves nothing
    assert (await alice.get("/admin/authorizations/ISC/26/031")).status_code == 404
    assert (await carol.decide(change.json())).status_code == 200
    assert (await alice.get("/admin/authorizations/ISC/26/031")).status_code == 200
    for browser in (alice, bob, carol):
        await browser.browser.aclose()


async def test_an_approver_never_approves_what_empowers_themselves(four_eyes_demo):
    demo = four_eyes_demo
    alice, bob, carol = await admin_and_approvers(demo)
    promoted = await alice.put("/admin/operators/person:bob", {"roles": ["approver", "admin"]})
    assert promoted.status_code == 202, promoted.text
    own = await bob.decide(promoted.json())
    assert own.status_code == 403 and own.json()["code"] == "own_proposal"
    assert (await alice.get("/admin/operators/person:bob")).json()["roles"] == ["approver"]
    assert (await carol.decide(promoted.json())).status_code == 200
    assert (await alice.get("/admin/operators/person:bob")).json()["roles"] == [
        "approver",
        "admin",
    ]
    # bob, set up by alice's proposal, approves none of alice's; nor alice one of his.
    rights = await bob.put("/admin/operators/person:dave", {"roles": ["read-only"]})
    assert rights.status_code == 202, rights.text
    back = await alice.decide(rights.json())
    assert back.status_code == 403 and back.json()["code"] == "related_operator"
    for browser in (alice, bob, carol):
        await browser.browser.aclose()


async def test_a_role_or_key_added_waits_and_what_takes_away_is_at_once(four_eyes_demo):
    demo = four_eyes_demo
    alice, bob, carol = await admin_and_approvers(demo)
    first, second = generate_application_key(), generate_application_key()
    one_key = {"keys": [public_jwk(first)]}
    both_keys = {"keys": [public_jwk(first), public_jwk(second)]}
    path = "/admin/operators/service:ci"
    # Made on the store, as `crossroads operators add-service` does: outside four eyes.
    account = OperatorEntry("service:ci", (Role.READ_ONLY,), True, one_key)
    await demo.hub.operators.put(account, Actor("cli:tests"))
    ci = await bearer_of(demo, "service:ci", first)

    role = await alice.put(path, {"roles": ["read-only", "approver"], "jwks": one_key})
    assert role.status_code == 202 and role.json()["body"]["previous"]["roles"] == ["read-only"]
    key = await alice.put(path, {"roles": ["read-only"], "jwks": both_keys})
    assert key.status_code == 202, key.text
    assert (await alice.get(path)).json()["roles"] == ["read-only"]
    refused = await demo.http.post("/oauth/token", data=token_form("service:ci", second, TOKEN_URL))
    assert refused.status_code == 401

    disabled = await alice.put(path, {"roles": ["read-only"], "active": False, "jwks": one_key})
    assert disabled.status_code == 200, disabled.text  # takes away: at once
    assert (await demo.http.get("/admin/operators", headers=ci)).status_code == 401
    stale = await carol.decide(role.json())  # made against the account as it was
    assert stale.status_code == 409 and stale.json()["code"] == "conflict"
    enabled = await alice.put(path, {"roles": ["read-only"], "jwks": one_key})
    assert enabled.status_code == 202, enabled.text  # keys usable again: proposed
    assert (await alice.get(path)).json()["active"] is False
    withdrawn = await alice.put(path, {"roles": [], "active": False, "jwks": one_key})
    assert withdrawn.status_code == 200, withdrawn.text
    assert (
        await alice.browser.delete(path, headers={"X-CSRF-Token": alice.csrf})
    ).status_code == 204

    # The operators' form goes through the same four eyes.
    posted = await alice.browser.post(
        "/operator/operators",
        data={
            "operator_id": "person:erin",
            "roles": "approver",
            "active": "on",
            "csrf": alice.csrf,
        },
    )
    assert posted.status_code == 303, posted.text
    pending = [p for p in await demo.hub.four_eyes.list("pending") if p.key == "person:erin"]
    assert [p.proposed_by for p in pending] == ["person:alice"]
    assert (await alice.get("/admin/operators/person:erin")).status_code == 404
    for browser in (alice, bob, carol):
        await browser.browser.aclose()


async def test_a_proposal_left_waiting_expires_and_is_approved_no_more(tmp_path):
    demo = await start_demo_hub(
        tmp_path, persons=20, demo=True, four_eyes=True, proposal_lifetime_seconds=1
    )
    try:
        alice, bob, _ = await admin_and_approvers(demo)
        old = await alice.put("/admin/authorizations/ISC/26/032", authorization("ISC/26/032"))
        assert old.status_code == 202 and old.json()["state"] == "pending"
        await asyncio.sleep(1.2)
        late = await bob.decide(old.json())
        assert late.status_code == 409 and late.json()["code"] == "proposal_expired"
        assert (await bob.decide(old.json(), "reject")).json()["code"] == "proposal_expired"
        assert (await alice.get("/admin/authorizations/ISC/26/032")).status_code == 404
        shown = await bob.get(f"/admin/proposals/{old.json()['id']}")
        assert shown.json()["state"] == "expired"
        expired = await bob.get("/admin/proposals?state=expired")
        assert [p["id"] for p in expired.json()] == [old.json()["id"]]
        assert (await bob.get("/admin/proposals?state=pending")).json() == []
        page = await bob.get("/operator/proposals?lang=nl")
        assert "verlopen: niet op tijd goedgekeurd" in page.text
        assert f'id="approve-{old.json()["id"]}"' not in page.text
        for browser in (alice, bob):
            await browser.browser.aclose()
    finally:
        await demo.http.aclose()
        await demo.hub.close()


def test_the_command_line_on_the_store_stays_outside_four_eyes(tmp_path):
    """How a hub with four eyes on gets its first approvers: `crossroads operators put` and
    `add-service` write the store at once (whoever can write it can change anything)."""
    env = {
        "CROSSROADS_DATA_DIR": str(tmp_path),
        "CROSSROADS_STORE_URL": f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        "CROSSROADS_FOUR_EYES": "true",
    }
    assert runner.invoke(app, ["migrate"], env=env).exit_code == 0
    assert runner.invoke(app, ["keys", "init"], env=env).exit_code == 0
    person = runner.invoke(app, ["operators", "put", "person:ops", "--role", "approver"], env=env)
    assert person.exit_code == 0, person.output
    key = tmp_path / "ci.jwk.json"
    account = ["operators", "add-service", "ci", "--role", "admin", "--key-out", str(key)]
    assert runner.invoke(app, account, env=env).exit_code == 0

    async def on_the_store() -> tuple[list, list]:
        store = await open_store(env["CROSSROADS_STORE_URL"])
        try:
            return await store.operators.list_operators(), await store.operators.list_proposals()
        finally:
            await store.close()

    operators, proposals = asyncio.run(on_the_store())
    assert {(o.id, o.roles) for o in operators} == {
        ("person:ops", (Role.APPROVER,)),
        ("service:ci", (Role.ADMIN,)),
    }
    assert proposals == []


async def test_service_accounts_and_the_admin_token_propose_and_only_people_approve(
    four_eyes_demo,
):
    """An admin's two service accounts, each approved once by a colleague: one proposes, the
    other may not approve; nor may the static admin token. Both may still withdraw (reject)."""
    demo = four_eyes_demo
    alice, bob, carol = await admin_and_approvers(demo)
    first, second = generate_application_key(), generate_application_key()
    one = await alice.put(
        "/admin/operators/service:a1",
        {"roles": ["registry-editor"], "jwks": {"keys": [public_jwk(first)]}},
    )
    two = await alice.put(
        "/admin/operators/service:a2",
        {"roles": ["approver"], "jwks": {"keys": [public_jwk(second)]}},
    )
    assert (await bob.decide(one.json())).status_code == 200
    assert (await bob.decide(two.json())).status_code == 200
    a1, a2 = await bearer_of(demo, "service:a1", first), await bearer_of(demo, "service:a2", second)
    change = await demo.http.put(
        "/admin/authorizations/ISC/26/099", headers=a1, json=authorization("ISC/26/099")
    )
    assert change.status_code == 202, change.text
    approve = f"/admin/proposals/{change.json()['id']}/approve"
    for headers in (a2, ADMIN):
        refused = await demo.http.post(approve, headers=headers)
        assert refused.status_code == 403 and refused.json()["code"] == "approver_not_person"
    assert (await alice.get("/admin/authorizations/ISC/26/099")).status_code == 404
    # alice proposed a1, bob approved it: neither is a second pair of eyes on a1's proposals.
    for person in (alice, bob):
        assert (await person.decide(change.json())).json()["code"] == "related_operator"
    assert (await carol.decide(change.json())).status_code == 200
    withdrawn = await demo.http.put(
        "/admin/authorizations/ISC/26/098", headers=a1, json=authorization("ISC/26/098")
    )
    rejected = await demo.http.post(
        f"/admin/proposals/{withdrawn.json()['id']}/reject", headers=ADMIN, json={}
    )
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    for browser in (alice, bob, carol):
        await browser.browser.aclose()


async def test_the_person_behind_a_service_account_never_approves_its_proposals(four_eyes_demo):
    """Whoever approved a service account may hold its key (proposed by someone else with theirs),
    and so may whoever set up the service account that proposed it, however far back."""
    demo = four_eyes_demo
    alice, bob, carol = await admin_and_approvers(demo)
    await register(demo, "person:dave", "approver")
    dave = Operator(*await signed_in(demo, "dave"))
    hers, deeper = generate_application_key(), generate_application_key()
    by_token = await demo.http.put(
        "/admin/operators/service:mine",
        headers=ADMIN,
        json={"roles": ["admin"], "jwks": {"keys": [public_jwk(hers)]}},
    )
    assert by_token.status_code == 202
    assert (await alice.decide(by_token.json())).status_code == 200  # her key, unbeknown
    mine = await bearer_of(demo, "service:mine", hers)
    nested = await demo.http.put(
        "/admin/operators/service:nested",
        headers=mine,
        json={"roles": ["registry-editor"], "jwks": {"keys": [public_jwk(deeper)]}},
    )
    assert nested.status_code == 202, nested.text
    assert (await carol.decide(nested.json())).status_code == 200
    inner = await bearer_of(demo, "service:nested", deeper)
    for account, code in ((mine, "ISC/26/097"), (inner, "ISC/26/096")):
        change = await demo.http.put(
            f"/admin/authorizations/{code}", headers=account, json=authorization(code)
        )
        assert change.status_code == 202, change.text
        refused = await alice.decide(change.json())
        assert refused.status_code == 403 and refused.json()["code"] == "related_operator"
        assert (await dave.decide(change.json())).status_code == 200
    for browser in (alice, bob, carol, dave):
        await browser.browser.aclose()


async def test_a_disabled_account_given_a_role_or_a_key_is_a_proposal(four_eyes_demo):
    """Else an admin would disable an account, give it the admin role and their own key at once,
    and the proposal to enable it again would show the approver nothing but `active`."""
    demo = four_eyes_demo
    alice, bob, carol = await admin_and_approvers(demo)
    kept, mine = generate_application_key(), generate_application_key()
    keys = {"keys": [public_jwk(kept)]}
    await demo.hub.operators.put(
        OperatorEntry("service:ops", (Role.READ_ONLY,), True, keys), Actor("cli:tests")
    )
    path = "/admin/operators/service:ops"
    disabled = await alice.put(path, {"roles": ["read-only"], "active": False, "jwks": keys})
    assert disabled.status_code == 200, disabled.text
    for body in (
        {"roles": ["admin"], "active": False, "jwks": keys},
        {"roles": ["read-only"], "active": False, "jwks": {"keys": [public_jwk(mine)]}},
    ):
        rewritten = await alice.put(path, body)
        assert rewritten.status_code == 202, rewritten.text
    stored = (await alice.get(path)).json()
    assert stored["roles"] == ["read-only"] and stored["jwks"] == keys
    for browser in (alice, bob, carol):
        await browser.browser.aclose()


async def test_an_account_disabled_between_approvals_check_and_write_stays_disabled(
    four_eyes_on_postgres,  # noqa: F811 (the fixture)
):
    """A role approved while another hub process disables the account: the approval's write
    expects the account it checked, so the role is not given and the account not enabled again."""
    demo, url = four_eyes_on_postgres
    alice, bob, carol = await admin_and_approvers(demo)
    key = generate_application_key()
    account = OperatorEntry("service:ci", (Role.READ_ONLY,), True, {"keys": [public_jwk(key)]})
    await demo.hub.operators.put(account, Actor("cli:tests"))
    path = "/admin/operators/service:ci"
    role = await alice.put(
        path, {"roles": ["read-only", "approver"], "jwks": {"keys": [public_jwk(key)]}}
    )
    assert role.status_code == 202, role.text
    disable = "UPDATE operators SET active = 0 WHERE id = %s"
    async with changed_elsewhere(url, disable, ("service:ci",)):
        approving = asyncio.create_task(carol.decide(role.json()))
        await until_a_write_waits(url)
    refused = await approving
    assert refused.status_code == 409 and "pending again" in refused.json()["message"]
    now = (await alice.get(path)).json()
    assert now["active"] is False and now["roles"] == ["read-only"]
    assert (await carol.get(f"/admin/proposals/{role.json()['id']}")).json()["state"] == "pending"
    for browser in (alice, bob, carol):
        await browser.browser.aclose()
