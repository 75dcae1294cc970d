"""Operators are people with roles: they sign in through OpenID Connect (the development identity
provider as the peer, over the hub's own HTTP), every admin route needs a role, every change names
its actor, and with four eyes on a change waits for a second operator."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from crossroads.demo import country
from crossroads.domain.audit import AuditRecord
from crossroads.domain.operators import Actor, Operator, parse_roles

from ..conftest import start_demo_hub

pytestmark = pytest.mark.anyio
ADMIN = {"Authorization": "Bearer operator-secret-for-tests"}
WELFARE = country.BY_KEY["welfare"].number


@pytest.fixture
async def operators_demo(tmp_path):
    demo = await start_demo_hub(tmp_path, persons=20, demo=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


@pytest.fixture
async def four_eyes_demo(tmp_path, store_url):
    """On each store: the proposals' table and its conditional decision, SQLite and PostgreSQL."""
    demo = await start_demo_hub(tmp_path, store_url, persons=20, demo=True, four_eyes=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


async def register(demo, operator_id: str, *roles: str) -> None:
    """Over the admin API; with four eyes on, on the store as `crossroads operators put` does
    (a new operator is then itself a proposal: test_four_eyes_operators.py)."""
    if demo.hub.four_eyes.enabled:
        operator = Operator(operator_id, parse_roles(list(roles)))
        await demo.hub.operators.put(operator, Actor("cli:tests"))
        return
    answer = await demo.http.put(
        f"/admin/operators/{operator_id}", headers=ADMIN, json={"roles": list(roles)}
    )
    assert answer.status_code in (200, 201), answer.text


async def signed_in(demo, subject: str) -> tuple[httpx.AsyncClient, str]:
    """A browser of its own (its own cookies) that signed in at the development identity
    provider as `subject`; with the CSRF token its session gives."""
    browser = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=demo.app), base_url="http://hub.test"
    )
    to_idp = await browser.get("/operator/login")
    assert to_idp.status_code == 302, to_idp.text
    authorize = urlparse(to_idp.headers["location"])
    params = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert authorize.path == "/dev-idp/authorize"
    assert (
        params["client_id"] == "crossroads-operator" and params["code_challenge_method"] == "S256"
    )
    back = await browser.post("/dev-idp/authorize", data={**params, "subject": subject})
    assert back.status_code == 303, back.text
    callback = urlparse(back.headers["location"])
    assert callback.path == "/operator/callback"
    landed = await browser.get(f"{callback.path}?{callback.query}")
    assert landed.status_code == 303, landed.text
    session = await browser.get("/operator/session")
    assert session.status_code == 200, session.text
    assert session.json()["operator"] == f"person:{subject}"
    return browser, session.json()["csrf_token"]


async def records(demo) -> list[AuditRecord]:
    return [AuditRecord.from_canonical(raw) for _, raw in await demo.hub.store.audit.read(0, 10000)]


def authorization(reference: str) -> dict:
    return {
        "consumer": WELFARE,
        "service": "person.identity",
        "purpose": "SOCIAL_INTEGRATION",
        "legal_basis": f"deliberation {reference}",
        "required_capacities": ["SOCIAL_ASSISTANCE"],
        "allowed_fields": ["name"],
        "valid_from": "2024-01-01",
    }


async def test_a_signed_in_operator_changes_the_registry_under_their_own_name(operators_demo):
    demo = operators_demo
    await register(demo, "person:alice", "registry-editor")
    alice, csrf = await signed_in(demo, "alice")

    forged = await alice.put("/admin/capacities/PENSION", json={"name": "Pensioner"})
    assert forged.status_code == 403 and forged.json()["code"] == "csrf_failed"
    made = await alice.put(
        "/admin/capacities/PENSION", json={"name": "Pensioner"}, headers={"X-CSRF-Token": csrf}
    )
    assert made.status_code == 201, made.text
    listed = await alice.get("/admin/capacities")
    assert "PENSION" in [c["code"] for c in listed.json()]

    changes = [r for r in await records(demo) if r.action == "capacity.create"]
    assert [(r.target, r.actor) for r in changes][-1] == ("PENSION", "person:alice")
    seeded = [r for r in await records(demo) if r.action == "institution.create"]
    assert seeded and {r.actor for r in seeded} == {"demo:seed"}

    await alice.post("/operator/logout", headers={"X-CSRF-Token": csrf})
    gone = await alice.get("/admin/capacities")
    assert gone.status_code == 401
    await alice.aclose()


async def test_each_role_is_refused_what_it_does_not_grant(operators_demo):
    demo = operators_demo
    await register(demo, "person:audra", "auditor")
    await register(demo, "person:reed", "read-only")
    audra, audra_csrf = await signed_in(demo, "audra")
    reed, _ = await signed_in(demo, "reed")
    nobody, _ = await signed_in(demo, "mallory")  # signed in, but not an operator of this hub

    assert (await audra.get("/admin/institutions")).status_code == 200
    assert (await audra.get("/v1/audit/entries/0")).status_code == 200
    assert (await reed.get("/admin/institutions")).status_code == 200
    refusals = [
        await audra.put(
            "/admin/capacities/X", json={"name": "X"}, headers={"X-CSRF-Token": audra_csrf}
        ),
        await reed.get("/v1/audit/entries/0"),
        await nobody.get("/admin/institutions"),
        await audra.get("/admin/proposals"),  # reading proposals is reading: allowed
    ]
    assert [r.status_code for r in refusals] == [403, 403, 403, 200]
    assert [r.json()["code"] for r in refusals[:3]] == ["role_required"] * 3
    assert "registry-editor" in refusals[0].json()["message"]
    audited = [
        r for r in await records(demo) if r.kind == "request" and r.outcome == "role_required"
    ]
    assert {r.actor for r in audited} == {"person:audra", "person:reed", "person:mallory"}

    # An editor cannot make operators; only an admin can.
    await register(demo, "person:ed", "registry-editor")
    ed, ed_csrf = await signed_in(demo, "ed")
    promoted = await ed.put(
        "/admin/operators/person:ed", json={"roles": ["admin"]}, headers={"X-CSRF-Token": ed_csrf}
    )
    assert promoted.status_code == 403 and promoted.json()["code"] == "role_required"
    # A role withdrawn counts at the next request, in the same session.
    await register(demo, "person:reed")
    assert (await reed.get("/admin/institutions")).json()["code"] == "role_required"
    for browser in (audra, reed, nobody, ed):
        await browser.aclose()


async def test_an_application_token_is_not_an_operator(operators_demo):
    demo = operators_demo
    token = await demo.token(demo.welfare)
    answer = await demo.http.get(
        "/admin/institutions", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 403 and answer.json()["code"] == "forbidden"


async def test_four_eyes_applies_a_change_only_when_another_operator_approves(four_eyes_demo):
    demo = four_eyes_demo
    await register(demo, "person:alice", "registry-editor", "approver")
    await register(demo, "person:bob", "approver")
    alice, alice_csrf = await signed_in(demo, "alice")
    bob, bob_csrf = await signed_in(demo, "bob")

    # The legal basis in other languages goes through the proposal with the rest (wording.py).
    bases = {"fr": "délibération ISC/26/017", "de": "Beschluss ISC/26/017"}
    proposed = await alice.put(
        "/admin/authorizations/ISC/26/017",
        json={**authorization("ISC/26/017"), "legal_basis_translations": bases},
        headers={"X-CSRF-Token": alice_csrf},
    )
    assert proposed.status_code == 202, proposed.text
    proposal = proposed.json()
    assert (proposal["state"], proposal["proposed_by"]) == ("pending", "person:alice")
    assert (await alice.get("/admin/authorizations/ISC/26/017")).status_code == 404

    own = await alice.post(
        f"/admin/proposals/{proposal['id']}/approve", headers={"X-CSRF-Token": alice_csrf}
    )
    assert own.status_code == 403 and own.json()["code"] == "own_proposal"
    pending = await bob.get("/admin/proposals", params={"state": "pending"})
    assert [p["id"] for p in pending.json()] == [proposal["id"]]

    approved = await bob.post(
        f"/admin/proposals/{proposal['id']}/approve", headers={"X-CSRF-Token": bob_csrf}
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["state"], approved.json()["decided_by"]) == ("approved", "person:bob")
    applied = await alice.get("/admin/authorizations/ISC/26/017")
    assert applied.status_code == 200 and applied.json()["consumer"] == WELFARE
    assert applied.json()["legal_basis_translations"] == bases
    again = await bob.post(
        f"/admin/proposals/{proposal['id']}/approve", headers={"X-CSRF-Token": bob_csrf}
    )
    assert again.status_code == 409

    steps = [
        (r.action, r.actor, r.detail.get("proposed_by"))
        for r in await records(demo)
        if r.action in ("proposal.create", "proposal.approve")
        or ((r.action or "").startswith("authorization.") and r.target == "ISC/26/017")
    ]
    assert steps == [
        ("proposal.create", "person:alice", "person:alice"),
        ("proposal.approve", "person:bob", "person:alice"),
        ("authorization.create", "person:bob", "person:alice"),
    ]
    for browser in (alice, bob):
        await browser.aclose()


async def test_four_eyes_holds_a_removal_until_decided_and_a_rejection_keeps_it(four_eyes_demo):
    demo = four_eyes_demo
    await register(demo, "person:alice", "registry-editor")
    rights = (await demo.http.get("/admin/integration-rights", headers=ADMIN)).json()
    right = rights[0]
    path = f"/admin/integration-rights/{right['institution']}/{right['capacity']}"
    alice, csrf = await signed_in(demo, "alice")

    proposed = await alice.delete(path, headers={"X-CSRF-Token": csrf})
    assert proposed.status_code == 202 and proposed.json()["action"] == "delete"
    assert (await alice.get(path)).status_code == 200
    not_hers = await alice.post(
        f"/admin/proposals/{proposed.json()['id']}/approve", headers={"X-CSRF-Token": csrf}
    )
    assert not_hers.json()["code"] == "role_required"  # an editor approves nothing

    rejected = await demo.http.post(
        f"/admin/proposals/{proposed.json()['id']}/reject",
        headers=ADMIN,
        json={"reason": "the licence still runs"},
    )
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert (await alice.get(path)).status_code == 200
    decision = [r for r in await records(demo) if r.action == "proposal.reject"]
    assert [(r.actor, r.detail["reason"]) for r in decision] == [
        ("admin-token", "the licence still runs")
    ]
    await alice.aclose()


async def test_four_eyes_keeps_an_integration_rights_legal_basis_in_other_languages(
    four_eyes_demo,
):
    """The legal basis in Dutch, French and German goes through the proposal and is applied with
    the right on approval (migration 0032, on each store)."""
    demo = four_eyes_demo
    await register(demo, "person:alice", "registry-editor")
    await register(demo, "person:bob", "approver")
    alice, alice_csrf = await signed_in(demo, "alice")
    bob, bob_csrf = await signed_in(demo, "bob")
    path = f"/admin/integration-rights/{WELFARE}/JOB_SEEKER"
    bases = {"nl": "Wet van 26 mei 2002", "fr": "Loi du 26 mai 2002", "de": "Gesetz vom 26. Mai"}
    proposed = await alice.put(
        path,
        json={"legal_basis": "Law of 26 May 2002", "legal_basis_translations": bases},
        headers={"X-CSRF-Token": alice_csrf},
    )
    assert proposed.status_code == 202, proposed.text
    assert proposed.json()["body"]["legal_basis_translations"] == bases
    assert (await alice.get(path)).status_code == 404

    approved = await bob.post(
        f"/admin/proposals/{proposed.json()['id']}/approve", headers={"X-CSRF-Token": bob_csrf}
    )
    assert approved.status_code == 200, approved.text
    applied = await bob.get(path)
    assert applied.status_code == 200, applied.text
    assert applied.json()["legal_basis_translations"] == bases
    for browser in (alice, bob):
        await browser.aclose()
