"""The competent institution of each right is the registry's: an operator changes or ends it
through the admin API (audited, four eyes when on), and the engine's very next decision follows
it; the demo seeds it as an operator would."""

from __future__ import annotations

import pytest

from crossroads.demo import country, household_facts

from ..conftest import start_demo_hub
from .test_operators import records, register, signed_in
from .test_rights_api import reimbursed_by_income

pytestmark = pytest.mark.anyio
ADMIN = {"Authorization": "Bearer operator-secret-for-tests"}
RIGHT = "increased-reimbursement"
ECONOMY = country.BY_KEY["economy"].number


def modest(demo) -> list[str]:
    """Adults without benefits whom the rules grant the increased reimbursement by income."""
    found = []
    for subject in demo.seeded["subjects"]:
        if country.is_child(subject) or any(household_facts.benefits(subject).values()):
            continue
        composition = household_facts.household(subject)
        size = composition["adults"] + composition["children"]
        if household_facts.income(subject)["yearly_income"] <= 25_794.82 + 4_775.50 * (size - 1):
            found.append(subject)
    assert len(found) >= 2, "the demo country has too few modest households"
    return found


@pytest.fixture
async def rights_demo(tmp_path):
    demo = await start_demo_hub(tmp_path, demo=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


@pytest.fixture
async def four_eyes_rights_demo(tmp_path):
    demo = await start_demo_hub(tmp_path, demo=True, four_eyes=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


async def test_a_changed_then_ended_competence_holds_for_the_next_decision(rights_demo):
    demo = rights_demo
    listed = await demo.http.get("/admin/rights/competent", headers=ADMIN)
    assert listed.status_code == 200, listed.text
    assert {c["right"]: c["capacity"] for c in listed.json()} == {
        "child-social-supplement": "CHILD_BENEFICIARY",
        "increased-reimbursement": "HEALTH_INSURED",
        "social-energy-tariff": None,
    }
    changed = await demo.http.put(
        f"/admin/rights/{RIGHT}/competent",
        headers=ADMIN,
        json={"institution": ECONOMY, "legal_basis": "a law that moves it"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {
        "right": RIGHT,
        "capacity": None,
        "institution": ECONOMY,
        "legal_basis": "a law that moves it",
    }
    subject = modest(demo)[0]
    [granted] = [d for d in await demo.hub.rights.evaluate(subject) if d.right == RIGHT]
    assert granted.competent == ECONOMY  # not the person's fund, as the seed had it

    ended = await demo.http.delete(f"/admin/rights/{RIGHT}/competent", headers=ADMIN)
    assert ended.status_code == 204, ended.text
    shown = await demo.http.get(f"/admin/rights/{RIGHT}/competent", headers=ADMIN)
    assert shown.status_code == 404 and shown.json()["code"] == "not_found"
    # The next decision goes to nobody.
    [second] = [d for d in await demo.hub.rights.evaluate(modest(demo)[1]) if d.right == RIGHT]
    assert second.change == "granted" and second.competent is None
    assert granted.competent == ECONOMY  # an earlier decision keeps the institution it went to
    assert (await demo.hub.store.rights.get(granted.id)).competent == ECONOMY

    trail = [
        (r.action, r.target, r.detail.get("institution"))
        for r in await records(demo)
        if (r.action or "").startswith("rights_competence.")
    ]
    assert trail[-2:] == [
        ("rights_competence.update", RIGHT, ECONOMY),
        ("rights_competence.delete", RIGHT, None),
    ]
    assert [t[0] for t in trail[:3]] == ["rights_competence.create"] * 3  # the demo's seed


async def test_bad_competences_are_refused_with_their_codes(rights_demo):
    demo = rights_demo
    cases = [
        ("no-such-right", {"capacity": "HEALTH_INSURED"}, 404, "unknown_right"),
        (RIGHT, {"capacity": "HEALTH_INSURED", "institution": ECONOMY}, 400, "malformed_request"),
        (RIGHT, {}, 400, "malformed_request"),
        (RIGHT, {"capacity": "NO_SUCH_CAPACITY"}, 404, "not_found"),
        (RIGHT, {"institution": "0123456789"}, 422, "invalid_identifier"),
        (RIGHT, {"institution": "0200000043"}, 404, "not_found"),  # valid, not registered
        (RIGHT, {"capacity": "HEALTH_INSURED", "unexpected": 1}, 400, "malformed_request"),
    ]
    for right, body, status, code in cases:
        answer = await demo.http.put(f"/admin/rights/{right}/competent", headers=ADMIN, json=body)
        assert (answer.status_code, answer.json()["code"]) == (status, code), (body, answer.text)
    removed = await demo.http.delete("/admin/rights/no-such-right/competent", headers=ADMIN)
    assert removed.status_code == 404 and removed.json()["code"] == "unknown_right"
    unchanged = await demo.http.get(f"/admin/rights/{RIGHT}/competent", headers=ADMIN)
    assert unchanged.json()["capacity"] == "HEALTH_INSURED"


async def test_with_four_eyes_a_competence_changes_only_when_another_operator_approves(
    four_eyes_rights_demo,
):
    demo = four_eyes_rights_demo
    await register(demo, "person:alice", "registry-editor", "approver")
    await register(demo, "person:bob", "approver")
    alice, alice_csrf = await signed_in(demo, "alice")
    bob, bob_csrf = await signed_in(demo, "bob")
    proposed = await alice.put(
        f"/admin/rights/{RIGHT}/competent",
        json={"institution": ECONOMY},
        headers={"X-CSRF-Token": alice_csrf},
    )
    assert proposed.status_code == 202, proposed.text
    proposal = proposed.json()
    assert (proposal["kind"], proposal["key"]) == ("rights_competence", RIGHT)
    subject = reimbursed_by_income(demo)
    still = await alice.get(f"/admin/rights/{RIGHT}/competent")
    assert still.json()["capacity"] == "HEALTH_INSURED"

    own = await alice.post(
        f"/admin/proposals/{proposal['id']}/approve", headers={"X-CSRF-Token": alice_csrf}
    )
    assert own.status_code == 403 and own.json()["code"] == "own_proposal"
    approved = await bob.post(
        f"/admin/proposals/{proposal['id']}/approve", headers={"X-CSRF-Token": bob_csrf}
    )
    assert approved.status_code == 200, approved.text
    [granted] = [d for d in await demo.hub.rights.evaluate(subject) if d.right == RIGHT]
    assert granted.competent == ECONOMY

    removal = await alice.delete(
        f"/admin/rights/{RIGHT}/competent", headers={"X-CSRF-Token": alice_csrf}
    )
    assert removal.status_code == 202, removal.text
    assert (await alice.get(f"/admin/rights/{RIGHT}/competent")).status_code == 200
    steps = [
        (r.action, r.actor, r.detail.get("proposed_by"))
        for r in await records(demo)
        if r.action in ("proposal.create", "proposal.approve")
        or ((r.action or "").startswith("rights_competence.") and r.actor != "demo:seed")
    ]
    assert steps == [
        ("proposal.create", "person:alice", "person:alice"),
        ("proposal.approve", "person:bob", "person:alice"),
        ("rights_competence.update", "person:bob", "person:alice"),
        ("proposal.create", "person:alice", "person:alice"),
    ]
    for browser in (alice, bob):
        await browser.aclose()
