"""The signed-in person's rights on their personal page and their simulation from their real
facts (a POST form with the session's CSRF token; nothing typed kept), and the bound on the
anonymous simulations anyone may ask."""

from __future__ import annotations

import asyncio

import pytest

from crossroads.demo import rights

from .portal_browsing import csrf_of
from .test_citizen_api import sign_in
from .test_rights_api import records, reimbursed_by_income, rights_demo  # noqa: F401

pytestmark = pytest.mark.anyio


async def test_my_rights_show_on_my_page_with_the_explanation_the_fund_sees(rights_demo):  # noqa: F811
    demo = rights_demo
    subject = reimbursed_by_income(demo)
    [decision] = [d for d in await demo.hub.rights.evaluate(subject) if d.right == rights.BIM]
    assert (await sign_in(demo, subject)).status_code in (200, 303)
    mine = await demo.http.get("/citizen/data?lang=fr")
    assert mine.status_code == 200, mine.text
    section = mine.text[mine.text.index('id="rights"') :]
    assert f'id="decision-{decision.id}"' in section
    assert "Intervention majorée" in section or "intervention majorée" in section.lower()
    for shown in (
        decision.outcome.rule_version,
        "ISC/26/704",
        "household.income/1",
        "increased_reimbursement.income_ceiling",
        decision.outcome.legal_basis[0],
    ):
        assert shown in section, shown
    assert "/citizen/rights/simulation" in section


async def test_my_simulation_starts_from_my_facts_and_keeps_nothing_i_typed(rights_demo):  # noqa: F811
    demo = rights_demo
    subject = reimbursed_by_income(demo)
    assert (await demo.http.get("/citizen/rights/simulation")).status_code == 401
    await sign_in(demo, subject)
    form = await demo.http.get("/citizen/rights/simulation?lang=nl")
    assert form.status_code == 200 and 'method="post"' in form.text
    token = csrf_of(form.text)
    typed = {"income_ending": "0", "household_income": "96123", "children_to_come": "1"}
    forged = await demo.http.post("/citizen/rights/simulation", data=typed)
    assert forged.status_code == 403 and forged.headers["x-road-error"] == "csrf_failed"
    before = len(await records(demo))
    answer = await demo.http.post(
        "/citizen/rights/simulation", data={**typed, "csrf": token, "disability_allowance": "no"}
    )
    assert answer.status_code == 200, answer.text
    outcomes = answer.text[answer.text.index('id="outcomes"') :]
    bim = outcomes[: outcomes.index("</tr>", outcomes.index("Verhoogde tegemoetkoming"))]
    assert bim.count("<td>Ja") == 1 and bim.count("<td>Nee") == 1  # today yes, then no
    assert "ISC/26/702" in answer.text and "96.123" in answer.text
    reads = (await records(demo))[before:]
    assert {r.user_id for r in reads if r.kind == "exchange"} == {"self"}
    assert not any(b"96123" in r.canonical() for r in reads)
    for unreadable in ("much", "NaN", "inf", "1e999", "-1", "0x10"):
        wrong = await demo.http.post(
            "/citizen/rights/simulation", data={"household_income": unreadable, "csrf": token}
        )
        assert wrong.status_code == 400 and 'role="alert"' in wrong.text, unreadable
        # Refused inside its form, it is still named and audited as any refusal (an outside
        # review found neither).
        assert wrong.headers["x-road-error"] == "malformed_request", unreadable
        request_id = wrong.headers["x-request-id"]
        assert [r.outcome for r in await records(demo) if r.request_id == request_id] == [
            "malformed_request"
        ], unreadable


async def test_anonymous_simulations_beyond_the_bound_are_refused_at_once_and_not_recorded(
    rights_demo,  # noqa: F811
):
    demo = rights_demo
    simulation = demo.hub.rights_simulation
    simulation.at_once = 1
    situation = {"adults": 2, "children": 1, "household_income": 20_000}
    first, second = await asyncio.gather(
        simulation.anonymous(situation), simulation.anonymous(situation), return_exceptions=True
    )
    assert not isinstance(first, BaseException) and first.outcomes
    assert getattr(second, "code", None) == "simulations_busy"
    running = asyncio.create_task(simulation.anonymous(situation))
    await asyncio.sleep(0)  # it holds the one place, computing in its thread
    refused = await demo.http.post("/v1/rights/simulations", json=situation)
    page = await demo.http.get("/portal/rights", params={"household_income": "1"})
    await running
    assert refused.status_code == 429 and refused.json()["code"] == "simulations_busy"
    assert refused.headers["Retry-After"]
    assert page.status_code == 429 and 'id="busy"' in page.text
    assert not [r for r in await records(demo) if b"simulations_busy" in r.canonical()]
    assert (await demo.http.post("/v1/rights/simulations", json=situation)).status_code == 200
    for too_much in ({"household_income": 1e12}, {"children_to_come": 21}, {"income_ending": -1}):
        answer = await demo.http.post("/v1/rights/simulations", json=too_much)
        assert answer.status_code in (400, 422) and answer.json()["code"] == "malformed_request"
