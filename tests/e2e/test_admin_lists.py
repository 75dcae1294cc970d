"""Every resource the admin API creates, it lists and shows: the routes are walked to prove it,
and the lists of what the demo seeded (employers and mandates a page at a time) are read back on
both stores."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from crossroads.demo import country, employers
from crossroads.entrypoints.api.app import create_app

from ..conftest import make_settings

pytestmark = pytest.mark.anyio
OPERATOR = {"Authorization": "Bearer operator-secret-for-tests"}
# Writes that act on a list rather than create in it, and the list they act on.
ACTIONS = {
    "/admin/dead-letters/replay": "/admin/dead-letters",
    "/admin/dead-letters/drop": "/admin/dead-letters",
    "/admin/proposals/{proposal_id}/approve": "/admin/proposals",
    "/admin/proposals/{proposal_id}/reject": "/admin/proposals",
    "/admin/statistics/extract": "/admin/statistics",
    "/admin/statistics/publish": "/admin/statistics",
    "/admin/rights/evaluate": "/admin/rights/decisions",
    "/admin/rights/scan": "/admin/rights/decisions",
}


def api_routes(app) -> list[APIRoute]:
    def walk(routes) -> list:
        # FastAPI may keep an included router whole (its routes under `original_router`).
        return [
            r
            for route in routes
            for r in (
                walk(route.original_router.routes) if hasattr(route, "original_router") else [route]
            )
        ]

    return [r for r in walk(app.routes) if isinstance(r, APIRoute)]


def collection_of(path: str) -> str:
    """The list a write adds to: its path without the trailing path parameters."""
    return re.sub(r"(/\{[^}]+\})+$", "", path)


def test_every_admin_route_that_creates_has_a_list_route_and_a_get_route(tmp_path):
    routes = api_routes(create_app(make_settings(tmp_path)))
    gets = {r.path for r in routes if "GET" in r.methods}
    writes = [r.path for r in routes if r.path.startswith("/admin") and r.methods & {"PUT", "POST"}]
    assert len(writes) >= 10  # the walk reached the admin routers
    missing_lists = [p for p in writes if ACTIONS.get(p, collection_of(p)) not in gets]
    assert missing_lists == []
    # What is created under a name (a path parameter) is shown under the same path.
    missing_gets = [p for p in writes if collection_of(p) != p and p not in gets]
    assert missing_gets == []


def test_the_route_walk_would_see_a_missing_list():
    assert collection_of("/admin/employers/{company_id}") == "/admin/employers"
    assert (
        collection_of("/admin/integration-rights/{enterprise_number}/{capacity}")
        == "/admin/integration-rights"
    )
    assert collection_of("/admin/mandates") == "/admin/mandates"


async def test_the_employers_register_is_listed_a_page_at_a_time_and_each_shown(demo_on):
    http = demo_on.http
    seen, after = [], ""
    while True:
        page = await http.get(
            "/admin/employers", params={"after": after, "limit": 7}, headers=OPERATOR
        )
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["employers"]) <= 7
        if not body["employers"]:
            assert body["next_after"] == after
            break
        seen += body["employers"]
        after = body["next_after"]
    seeded = sorted(company_id for company_id, _, _ in employers.EMPLOYERS)
    assert [e["company_id"] for e in seen] == seeded
    company_id, noss, name = employers.EMPLOYERS[3]
    shown = await http.get(f"/admin/employers/{company_id}", headers=OPERATOR)
    assert shown.json() == {"company_id": company_id, "noss": noss, "name": name, "active": True}
    unknown = await http.get(f"/admin/employers/{country.BY_KEY['nr'].number}", headers=OPERATOR)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    bad = await http.get("/admin/employers/123", headers=OPERATOR)
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_identifier")
    refused = await http.get(
        "/admin/employers",
        headers={"Authorization": f"Bearer {await demo_on.token(demo_on.welfare)}"},
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")


async def test_mandates_are_listed_by_office_or_employer_a_page_at_a_time(demo_on):
    http = demo_on.http
    payroll = country.BY_KEY["payroll"].number
    seen, after = [], None
    while True:
        page = await http.get(
            "/admin/mandates",
            params={"office": payroll, "limit": 6, **({"after": after} if after else {})},
            headers=OPERATOR,
        )
        assert page.status_code == 200, page.text
        if not page.json()["mandates"]:
            break
        seen += page.json()["mandates"]
        after = page.json()["next_after"]
    assert sorted(m["employer"] for m in seen) == sorted(c for c, _, _ in employers.EMPLOYERS)
    assert {(m["office"], m["valid_from"], m["valid_to"]) for m in seen} == {
        (payroll, "2024-01-01", None)
    }
    one = employers.EMPLOYERS[0][0]
    put = await http.put(
        "/admin/mandates",
        headers=OPERATOR,
        json={
            "office": country.BY_KEY["welfare"].number,
            "employer": one,
            "valid_from": "2025-02-01",
            "valid_to": "2025-12-31",
        },
    )
    assert put.status_code == 204, put.text
    of_employer = (
        await http.get("/admin/mandates", params={"employer": one}, headers=OPERATOR)
    ).json()["mandates"]
    assert sorted((m["office"], m["valid_to"]) for m in of_employer) == sorted(
        [(payroll, None), (country.BY_KEY["welfare"].number, "2025-12-31")]
    )
    bad = await http.get("/admin/mandates", params={"after": "not-a-cursor"}, headers=OPERATOR)
    assert (bad.status_code, bad.json()["code"], bad.json()["field"]) == (
        400,
        "malformed_request",
        "after",
    )


async def test_each_registry_resource_is_shown_under_the_path_it_was_put_at(demo_on):
    http = demo_on.http
    welfare = country.BY_KEY["welfare"].number
    fund = country.BY_KEY["fund_a"].number

    async def get(path: str) -> dict:
        answer = await http.get(path, headers=OPERATOR)
        assert answer.status_code == 200, (path, answer.text)
        return answer.json()

    assert (await get(f"/admin/institutions/{welfare}"))["enterprise_number"] == welfare
    applications = await get(f"/admin/institutions/{welfare}/applications")
    assert [a["client_id"] for a in applications] == [demo_on.welfare]
    assert (await get(f"/admin/institutions/{welfare}/applications/case-app"))[
        "client_id"
    ] == demo_on.welfare
    assert (await get("/admin/capacities/HEALTH_INSURED"))["code"] == "HEALTH_INSURED"
    assert (await get("/admin/services/person.identity/1"))["code"] == "person.identity"
    providers = await get("/admin/services/health.affiliation/providers")
    assert fund in [p["institution"] for p in providers]
    assert (await get(f"/admin/services/health.affiliation/providers/{fund}"))[
        "institution"
    ] == fund
    assert (await get("/admin/authorizations/ISC/24/101"))["consumer"] == welfare
    assert (await get(f"/admin/integration-rights/{fund}/HEALTH_INSURED"))[
        "capacity"
    ] == "HEALTH_INSURED"
    types = await get("/admin/mutation-types")
    first = types[0]
    assert (await get(f"/admin/mutation-types/{first['code']}/{first['version']}"))[
        "code"
    ] == first["code"]
    for path in (
        "/admin/institutions/0411905847",
        "/admin/capacities/NOPE",
        "/admin/services/person.identity/9",
        "/admin/authorizations/ISC/0/0",
        f"/admin/integration-rights/{fund}/JOB_SEEKER",
        "/admin/mutation-types/nope/1",
        f"/admin/institutions/{welfare}/applications/nope",
    ):
        answer = await http.get(path, headers=OPERATOR)
        assert (answer.status_code, answer.json()["code"]) == (404, "not_found"), path
