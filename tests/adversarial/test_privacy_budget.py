"""An analyst's privacy budget bounds what their questions spend: no epsilon, however small,
is answered for less than it costs, and none is so small that its answer is noise alone
(docs/security.md, "Statistics: the budget bounds what is spent"). On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from crossroads.demo import country

from ..conftest import start_demo_hub

pytestmark = pytest.mark.anyio
ANALYST = f"{country.BY_KEY['unemployment'].number}:benefits-app"
PROJECT = "EMPLOYMENT_POLICY_2026"  # the demo's statistics authorization (ISC/26/801)


@pytest.fixture
async def demo(tmp_path, store_url):
    demo = await start_demo_hub(tmp_path, store_url, persons=20)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


async def test_no_epsilon_is_answered_for_less_than_it_spends(demo):
    headers = {"Authorization": f"Bearer {await demo.token(ANALYST)}"}

    async def ask(epsilon: float):
        return await demo.http.post(
            "/v1/statistics/queries",
            headers=headers,
            json={"project": PROJECT, "mart": "employment", "protection": "dp", "epsilon": epsilon},
        )

    spent = []
    for epsilon in (1.4e-6, 1e-6, 0.1):
        answer = await ask(epsilon)
        assert answer.status_code == 200, answer.text
        budget = answer.json()["budget"]
        spent.append(round(budget["epsilon_spent"] * 1_000_000))
    # Rounded up to the budget's unit (a millionth), never down; a decimal is counted as written.
    assert spent == [2, 3, 100_003]
    for tiny in (5e-7, 4e-7, 1e-300):  # once answered for nothing, with -2^63 for 1e-300
        refused = await ask(tiny)
        assert refused.status_code == 400, refused.text
        assert refused.json()["code"] == "malformed_request"
        assert refused.json()["field"] == "epsilon"
    left = await demo.http.get(
        "/v1/statistics/budget", params={"project": PROJECT}, headers=headers
    )
    assert round(left.json()["epsilon_spent"] * 1_000_000) == 100_003
