"""The admin API (operator only, every change audited) and GovStack IM discovery."""

from __future__ import annotations

import pytest

from crossroads.adapters.keys import generate_application_key, public_jwk
from crossroads.demo import country
from crossroads.domain.audit import AuditRecord

pytestmark = pytest.mark.anyio
OPERATOR = {"Authorization": "Bearer operator-secret-for-tests"}


async def test_registry_changes_are_checked_and_audited(demo):
    before = await demo.hub.store.audit.count()
    created = await demo.http.put(
        "/admin/institutions/BE0411.905.847", json={"name": "New fund"}, headers=OPERATOR
    )
    assert created.status_code == 201 and created.json()["enterprise_number"] == "0411905847"
    again = await demo.http.put(
        "/admin/institutions/0411905847", json={"name": "New fund"}, headers=OPERATOR
    )
    assert again.status_code == 200
    entries = await demo.hub.store.audit.read(before + 1, 10)
    records = [AuditRecord.from_canonical(raw) for _, raw in entries]
    assert [(r.kind, r.action, r.target) for r in records] == [
        ("registry", "institution.create", "0411905847"),
        ("registry", "institution.update", "0411905847"),
    ]
    key = generate_application_key("ES256")
    app = await demo.http.put(
        "/admin/institutions/0411905847/applications/app",
        headers=OPERATOR,
        json={"name": "App", "jwks": {"keys": [public_jwk(key)]}},
    )
    assert app.status_code == 201 and app.json()["client_id"] == "0411905847:app"
    private = await demo.http.put(
        "/admin/institutions/0411905847/applications/app2",
        headers=OPERATOR,
        json={"name": "App", "jwks": {"keys": [key]}},
    )
    assert private.json()["code"] == "malformed_request" and "private" in private.json()["message"]


@pytest.mark.parametrize(
    "path, body, code",
    [
        ("/admin/institutions/0411905848", {"name": "x"}, "invalid_identifier"),
        (
            "/admin/authorizations/ISC/1",
            {
                "consumer": "0411905847",
                "service": "person.identity",
                "purpose": "P",
                "legal_basis": "l",
                "required_capacities": ["JOB_SEEKER"],
                "allowed_fields": ["name"],
                "valid_from": "2024-01-01",
            },
            "not_found",
        ),
        (
            "/admin/services/x.y/1",
            {"name": "x", "provider": "0403170701", "response_fields": ["a"]},
            "not_found",
        ),
        (
            "/admin/services/x.y/1",
            {
                "name": "x",
                "routed_capacity": "JOB_SEEKER",
                "response_fields": ["a"],
                "response_schema": {"type": 5},
            },
            "malformed_request",
        ),
    ],
)
async def test_bad_registry_entries_are_refused(demo, path, body, code):
    response = await demo.http.put(path, json=body, headers=OPERATOR)
    assert response.status_code in (400, 404, 422) and response.json()["code"] == code, (
        response.text
    )


async def test_authorization_fields_must_be_service_fields(demo):
    welfare = country.BY_KEY["welfare"].number
    response = await demo.http.put(
        "/admin/authorizations/ISC/9/9",
        headers=OPERATOR,
        json={
            "consumer": welfare,
            "service": "person.identity",
            "purpose": "P",
            "legal_basis": "l",
            "required_capacities": ["SOCIAL_ASSISTANCE"],
            "allowed_fields": ["name", "bank_account"],
            "valid_from": "2024-01-01",
        },
    )
    assert (
        response.json()["code"] == "malformed_request"
        and "bank_account" in response.json()["message"]
    )


async def test_directory_import_reports_bad_lines_and_keeps_the_rest(demo):
    fund = country.BY_KEY["fund_a"].number
    subject = demo.seeded["subjects"][0]
    csv = (
        f"subject,institution,capacity,start,end\n{subject},{fund},HEALTH_INSURED,2024-01-01,\n"
        f"12345,{fund},HEALTH_INSURED,2024-01-01,\n{subject},{fund},NO_SUCH,2024-01-01,\n"
        f"{subject},{fund},HEALTH_INSURED,2024-13-01,\n{subject},{fund},HEALTH_INSURED,2025-01-01,2024-01-01\n"
        f"{subject},{fund},JOB_SEEKER,2024-01-01,\n"
    )
    response = await demo.http.post(
        "/v1/directory/import", content=csv, headers={**OPERATOR, "Content-Type": "text/csv"}
    )
    report = response.json()
    assert (report["lines"], report["applied"], report["rejected"]) == (6, 1, 5)
    assert [(e["line"], e["code"]) for e in report["errors"]] == [
        (2, "invalid_identifier"),
        (3, "malformed_request"),
        (4, "invalid_period"),
        (5, "invalid_period"),
        (6, "no_integration_right"),
    ]  # the operator too integrates only within an institution's rights
    query = await demo.http.post(
        "/v1/directory/query",
        headers=OPERATOR,
        json={
            "subject": subject,
            "institution": fund,
            "capacities": ["HEALTH_INSURED"],
            "period": {"start": "2024-06-01", "end": "2024-07-01"},
        },
    )
    assert query.json()["holds"] is True


async def test_an_application_integrates_only_for_its_own_institution(demo):
    token = await demo.token(demo.welfare)
    headers = {"Authorization": f"Bearer {token}"}
    subject = demo.seeded["subjects"][1]
    own = await demo.http.post(
        "/v1/directory/changes",
        headers=headers,
        json={
            "subject": subject,
            "capacity": "SOCIAL_ASSISTANCE",
            "start": demo.hub.clock.today().isoformat(),
            "phase": "provisional",
        },
    )
    assert own.status_code == 200, own.text
    other = await demo.http.post(
        "/v1/directory/changes",
        headers=headers,
        json={
            "subject": subject,
            "institution": country.BY_KEY["fund_a"].number,
            "capacity": "SOCIAL_ASSISTANCE",
            "start": "2024-01-01",
        },
    )
    assert other.status_code == 403 and other.json()["code"] == "forbidden"


async def test_govstack_discovery(demo):
    token = await demo.token(demo.welfare)
    headers = {"Authorization": f"Bearer {token}"}
    clients = (await demo.http.get("/listClients", headers=headers)).json()["member"]
    assert {
        "objectType": "MEMBER",
        "instanceId": "BE",
        "memberClass": "GOV",
        "memberCode": country.BY_KEY["nr"].number,
    } in [c["id"] for c in clients]
    nr = f"/r1/BE/GOV/{country.BY_KEY['nr'].number}/services"
    methods = (await demo.http.get(f"{nr}/listMethods", headers=headers)).json()["member"]
    provided = {
        s.code
        for s in await demo.hub.registry_queries.services()
        if s.provider == country.BY_KEY["nr"].number
    }
    assert {m["serviceCode"] for m in methods} == provided >= {"person.identity", "person.address"}
    allowed = (await demo.http.get(f"{nr}/allowedMethods", headers=headers)).json()["member"]
    assert {m["serviceCode"] for m in allowed} == {"person.identity", "person.address"}
    child_token = await demo.token(f"{country.BY_KEY['childben'].number}:benefits-app")
    allowed = (
        await demo.http.get(
            f"{nr}/allowedMethods", headers={"Authorization": f"Bearer {child_token}"}
        )
    ).json()["member"]
    assert {m["serviceCode"] for m in allowed} == {"person.identity"}
    spec = (
        await demo.http.get(
            f"{nr}/getOpenAPI", params={"serviceCode": "person.identity"}, headers=headers
        )
    ).json()
    assert spec["openapi"].startswith("3.") and "/v1/exchange/person.identity" in spec["paths"]
    assert spec["info"]["title"] == "Identity of a person"
    french = (
        await demo.http.get(
            f"{nr}/getOpenAPI",
            params={"serviceCode": "person.identity"},
            headers={**headers, "Accept-Language": "fr-BE, nl;q=0.5"},
        )
    ).json()["info"]
    assert french == {**spec["info"], "title": "Identité d'une personne"} | {
        "description": "Du Registre national."
    }
    missing = await demo.http.get(
        f"{nr}/getOpenAPI", params={"serviceCode": "nope"}, headers=headers
    )
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_service"
