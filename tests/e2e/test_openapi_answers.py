"""Real answers against the published OpenAPI document (docs/openapi.json): a tour of the API
whose every answer, success or refusal, must match the schema the document declares for it."""

from __future__ import annotations

import json
from datetime import date

import pytest

from crossroads.demo import country

from ..conftest import make_settings
from ..openapi_answers import DOCUMENT, AnswerChecker
from .test_declarations_api import PAYROLL, dimona_in, worker
from .test_govstack_xroad import xroad_client
from .test_mutations_api import NR, OPERATOR, PUBLISHER, TYPE, move, with_test_type

pytestmark = pytest.mark.anyio
WELFARE = country.BY_KEY["welfare"].number


def _generic(schema: dict | None) -> bool:
    """A success body described by nothing: a plain string for JSON, or an empty schema."""
    return schema in ({}, {"type": "string"}) or (
        schema is not None and schema.get("type") == "object" and not schema.get("properties")
    )


def test_every_json_answer_of_the_document_declares_its_schema():
    document = json.loads(DOCUMENT.read_text())
    undescribed = [
        f"{method.upper()} {path} {status}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for status, answer in operation["responses"].items()
        if status.startswith("2")
        and _generic(answer.get("content", {}).get("application/json", {}).get("schema"))
        and not path.startswith("/statistics/open-data/{")  # a file: CSV, Parquet or JSON
        # A provider's answer forwarded to a peer hub: its shape is the service's own response
        # schema (getOpenAPI describes it per service), not the hub's.
        and not path.startswith("/v1/federation/{peer}/exchange/")
    ]
    assert undescribed == []


def test_the_checker_fails_an_answer_off_its_schema(tmp_path):
    import httpx

    from crossroads.entrypoints.api.app import create_app

    checker = AnswerChecker(create_app(make_settings(tmp_path)).openapi())
    request = httpx.Request("GET", "http://hub.test/health")
    checker.check(httpx.Response(200, json={"state": 1}, request=request))
    checker.check(httpx.Response(200, json={"status": "ok"}, request=request))
    assert len(checker.failures) == 1 and "status" in checker.failures[0]


async def test_real_answers_match_the_published_document(demo):
    checker = AnswerChecker()

    async def check(response):
        await response.aread()
        checker.check(response)

    demo.http.event_hooks["response"].append(check)
    hub = await with_test_type(demo)
    welfare = {"Authorization": f"Bearer {await hub.token(hub.welfare)}"}
    publisher = {"Authorization": f"Bearer {await hub.token(PUBLISHER)}"}
    payroll = {"Authorization": f"Bearer {await hub.token(PAYROLL)}"}
    http = hub.http
    subject = hub.held_by("welfare")[0]

    for path in (
        "/health",
        "/ready",
        "/.well-known/jwks.json",
        "/.well-known/crossroads/key-history",
        "/.well-known/oauth-authorization-server",
    ):
        await http.get(path)
    # Discovery and the exchange, on our path and X-Road's.
    await http.get("/listClients", headers=welfare)
    provider = f"/r1/BE/GOV/{NR}/services"
    await http.get(f"{provider}/listMethods", headers=welfare)
    await http.get(f"{provider}/allowedMethods", headers=welfare)
    await http.get(
        f"{provider}/getOpenAPI", params={"serviceCode": "person.identity"}, headers=welfare
    )
    await http.get(f"{provider}/getOpenAPI", headers=welfare)
    asked = {"subject": subject, "purpose": "SOCIAL_INTEGRATION"}
    await http.post("/v1/exchange/person.identity", json=asked, headers=welfare)
    await http.post("/v1/exchange/person.identity", json={**asked, "purpose": "X"}, headers=welfare)
    await http.post("/v1/holders", json=asked, headers=welfare)
    xroad = {**welfare, "X-Road-Client": xroad_client(hub)}
    await http.post(f"{provider}/person.identity", json=asked, headers=xroad)
    await http.post(f"{provider}/person.identity", json={**asked, "purpose": "X"}, headers=xroad)
    await http.get("/v1/data-reports", headers=publisher)
    # The directory.
    await http.post("/v1/directory/query", json={"subject": subject}, headers=welfare)
    await http.post(
        "/v1/directory/changes",
        json={"subject": subject, "capacity": "SOCIAL_ASSISTANCE", "start": "2024-01-01"},
        headers=welfare,
    )
    # Mutations, our way and GovStack's.
    await http.get("/v1/mutation-types", headers=welfare)
    await http.post(
        "/v1/subscriptions",
        json={"mutation_type": TYPE, "purpose": "SOCIAL_INTEGRATION"},
        headers=welfare,
    )
    await http.get("/v1/subscriptions", headers=welfare)
    await http.post(f"/v1/mutations/{TYPE}", json=move("o-1", subject), headers=publisher)
    await http.post(
        f"/v1/mutations/{TYPE}/batch",
        json={"mutations": [move("o-2", subject), {}]},
        headers=publisher,
    )
    box = await http.get("/v1/mailbox", headers=welfare)
    await http.post(
        "/v1/mailbox/ack", json={"seqs": [box.json()["messages"][0]["seq"]]}, headers=welfare
    )
    room = f"/r1/BE/GOV/{NR}/register-app"
    await http.get(f"{room}/api/v1/eventType", headers=welfare)
    await http.get(f"{room}/api/v1/eventType/{TYPE}", headers=welfare)
    await http.get(f"{room}/api/v1/subs", headers=welfare)
    await http.get(f"{room}/api/v1/subs/{TYPE}", headers=welfare)
    await http.patch(f"{room}/api/v1/subs/{TYPE}", json={}, headers=welfare)
    event = {
        "subject": subject,
        "effective_date": date.today().isoformat(),
        "payload": {"city": "Gent"},
    }
    published = await http.post(
        f"{room}/pub/v1/{TYPE}", json={"eventType": TYPE, "event": event}, headers=publisher
    )
    await http.get(f"{room}/pub/v1/{TYPE}/{published.json()['id']}", headers=publisher)
    pulled = await http.get(f"{room}/pull/v1/{TYPE}", headers=welfare)
    await http.delete(f"{room}/pull/v1/{TYPE}/{pulled.json()['id']}", headers=welfare)
    await http.post(
        f"{room}/api/v1/eventType",
        headers=OPERATOR,
        json={"eventType": "tour.x", "schema": {"type": "object", "properties": {"a": {}}}},
    )
    # The operator's registry.
    for path in (
        "/admin/institutions",
        f"/admin/institutions/{WELFARE}",
        "/admin/applications",
        f"/admin/institutions/{WELFARE}/applications",
        f"/admin/institutions/{WELFARE}/applications/case-app",
        "/admin/capacities",
        "/admin/capacities/SOCIAL_ASSISTANCE",
        "/admin/services",
        "/admin/services/person.identity/1",
        "/admin/services/health.affiliation/providers",
        "/admin/routed-providers",
        "/admin/authorizations",
        "/admin/integration-rights",
        f"/admin/integration-rights/{WELFARE}/SOCIAL_ASSISTANCE",
        "/admin/mutation-types",
        f"/admin/mutation-types/{TYPE}/1",
        "/admin/dead-letters",
        "/admin/operators",
        "/admin/proposals",
        "/admin/employers",
        "/admin/mandates",
    ):
        await http.get(path, headers=OPERATOR)
    reference = (await http.get("/admin/authorizations", headers=OPERATOR)).json()[0]["reference"]
    await http.get(f"/admin/authorizations/{reference}", headers=OPERATOR)
    fund = country.BY_KEY["fund_a"].number
    await http.get(f"/admin/services/health.affiliation/providers/{fund}", headers=OPERATOR)
    await http.put("/admin/capacities/TOUR", json={"name": "Tour"}, headers=OPERATOR)
    await http.put("/admin/institutions/BE0411.905.847", json={"name": "Fund"}, headers=OPERATOR)
    await http.put(
        "/admin/integration-rights/0411905847/TOUR", json={"legal_basis": "l"}, headers=OPERATOR
    )
    await http.put(
        "/admin/services/tour.s/1",
        json={"name": "S", "provider": NR, "response_fields": ["a"]},
        headers=OPERATOR,
    )
    await http.put(
        "/admin/authorizations/ISC/99/1",
        json={
            "consumer": WELFARE,
            "service": "tour.s",
            "purpose": "TOUR",
            "legal_basis": "l",
            "required_capacities": ["SOCIAL_ASSISTANCE"],
            "allowed_fields": ["a"],
            "valid_from": "2024-01-01",
        },
        headers=OPERATOR,
    )
    await http.put(
        f"/admin/services/health.affiliation/providers/{fund}", json={}, headers=OPERATOR
    )
    await http.put("/admin/operators/person:tour", json={"roles": ["read-only"]}, headers=OPERATOR)
    await http.get("/admin/operators/person:tour", headers=OPERATOR)
    await http.put("/admin/employers/0411905847", json={"name": "Employer"}, headers=OPERATOR)
    await http.get("/admin/employers/0411905847", headers=OPERATOR)
    # Declarations.
    declared = await http.post(
        "/v1/declarations/dimona", json=dimona_in(worker(hub), date.today()), headers=payroll
    )
    await http.get(f"/v1/declarations/{declared.json()['declarationId']}", headers=payroll)
    await http.get("/v1/declarations", headers=payroll)
    # The audit log.
    while await hub.hub.sequencer.step():
        pass
    await hub.hub.sequencer.sign_now()
    head = await http.get("/v1/audit/tree-head", headers=welfare)
    assert head.status_code == 200, head.text
    size = head.json()["tree_size"]
    await http.get(
        "/v1/audit/proofs/inclusion", params={"leaf_index": 0, "tree_size": size}, headers=welfare
    )
    await http.get(
        "/v1/audit/proofs/consistency", params={"first": 1, "second": size}, headers=welfare
    )
    await http.get("/v1/audit/entries/0", headers=OPERATOR)

    assert checker.failures == [], "\n".join(checker.failures)
    tagged = {(m, t) for m, t, _ in checker.checked}
    assert len(tagged) >= 72, sorted(tagged)
