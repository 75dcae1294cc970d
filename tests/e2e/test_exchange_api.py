"""The exchange over HTTP, in-process: the nine steps, refusals, minimisation, and the audit."""

from __future__ import annotations

import pytest

from crossroads.demo import country
from crossroads.domain.audit import AuditRecord
from crossroads.domain.registry import Institution, IntegrationRight

from .test_govstack_xroad import expected_hash

pytestmark = pytest.mark.anyio


async def ask(
    demo, service: str, body: dict, client: str | None = None, headers: dict | None = None
):
    token = await demo.token(client or demo.welfare)
    return await demo.http.post(
        f"/v1/exchange/{service}",
        json=body,
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
    )


async def last_audit(demo) -> AuditRecord:
    count = await demo.hub.store.audit.count()
    entries = await demo.hub.store.audit.read(count, 1)
    return AuditRecord.from_canonical(entries[-1][1])


async def test_answer_is_minimised_signed_and_audited(demo):
    subject = demo.held_by("welfare")[0]
    body = {"subject": subject, "purpose": "SOCIAL_INTEGRATION"}
    response = await ask(
        demo,
        "person.identity",
        body,
        headers={"X-Road-UserId": "BE-official-42", "X-Request-Id": "req-1"},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["authorization"] == "ISC/24/101"
    # The request id is the hub's own; the caller's X-Request-Id is its correlation id, audited.
    assert (
        answer["request_id"]
        == response.headers["x-request-id"]
        == response.headers["x-road-id"]
        != "req-1"
    )
    [only] = answer["answers"]
    assert only["provider"] == country.BY_KEY["nr"].number
    # ISC/24/101 allows name, first_names and birth_date; the source also sends gender and more.
    assert set(only["data"]) == {"name", "first_names", "birth_date"}
    assert only["data"] == {k: v for k, v in country.identity(subject).items() if k in only["data"]}
    sent = response.request
    headers = [(k.decode(), v.decode()) for k, v in sent.headers.raw]
    assert response.headers["x-road-request-hash"] == expected_hash(
        "POST", sent.url.raw_path.decode(), headers, sent.content
    )
    record = await last_audit(demo)
    assert (
        record.kind,
        record.outcome,
        record.request_id,
        record.client_request_id,
        record.user_id,
    ) == ("exchange", "ok", answer["request_id"], "req-1", "BE-official-42")
    assert record.authorization == "ISC/24/101" and record.providers == (
        country.BY_KEY["nr"].number,
    )
    assert (
        record.subject_hash == demo.hub.hasher.hex(subject)
        and subject not in record.canonical().decode()
    )


async def test_routed_service_asks_the_fund_the_directory_names(demo):
    subject = demo.held_by("welfare")[0]
    response = await ask(
        demo, "health.affiliation", {"subject": subject, "purpose": "SOCIAL_INTEGRATION"}
    )
    assert response.status_code == 200, response.text
    [only] = response.json()["answers"]
    fund = next(
        line["institution"]
        for line in country.directory_lines([subject])
        if line["capacity"] == "HEALTH_INSURED"
    )
    assert only["provider"] == fund
    assert set(only["data"]) == {"fund", "preferential_rate"}


async def test_nested_fields_are_minimised_inside_lists(demo):
    subject = next(s for s in demo.held_by("welfare") if country.employment(s)["periods"])
    response = await ask(
        demo, "employment.periods", {"subject": subject, "purpose": "SOCIAL_INTEGRATION"}
    )
    periods = response.json()["answers"][0]["data"]["periods"]
    assert periods and all(set(p) == {"employer", "start", "end"} for p in periods)


async def test_holders_lists_institutions_with_allowed_fields_only(demo):
    subject = demo.held_by("welfare")[0]
    token = await demo.token(demo.welfare)
    response = await demo.http.post(
        "/v1/holders",
        json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    holders = response.json()["answers"][0]["data"]["holders"]
    assert {
        "institution": country.BY_KEY["welfare"].number,
        "capacity": "SOCIAL_ASSISTANCE",
    } in holders
    assert all(set(h) == {"institution", "capacity"} for h in holders)


@pytest.mark.parametrize(
    "case, body, service, code, status, field",
    [
        (
            "bad check digits",
            {"subject": "79122244458", "purpose": "SOCIAL_INTEGRATION"},
            "person.identity",
            "invalid_identifier",
            422,
            "subject",
        ),
        (
            "no authorization for purpose",
            {"purpose": "MARKETING"},
            "person.identity",
            "no_authorization",
            403,
            "purpose",
        ),
        (
            "unknown service",
            {"purpose": "SOCIAL_INTEGRATION"},
            "nope.nothing",
            "unknown_service",
            404,
            "service",
        ),
        (
            "unknown field",
            {"purpose": "SOCIAL_INTEGRATION", "colour": "red"},
            "person.identity",
            "malformed_request",
            400,
            "colour",
        ),
        ("missing purpose", {}, "person.identity", "malformed_request", 400, "purpose"),
        (
            "impossible date",
            {"purpose": "SOCIAL_INTEGRATION", "date": "2025-02-30"},
            "person.identity",
            "invalid_period",
            422,
            "date",
        ),
        (
            "period before the authorization",
            {
                "purpose": "SOCIAL_INTEGRATION",
                "period": {"start": "2020-01-01", "end": "2020-12-31"},
            },
            "person.identity",
            "period_outside_authorization",
            403,
            "period",
        ),
        (
            "reversed period",
            {
                "purpose": "SOCIAL_INTEGRATION",
                "period": {"start": "2025-01-01", "end": "2024-12-31"},
            },
            "person.identity",
            "invalid_period",
            422,
            "period",
        ),
        ("wrong type", {"purpose": 7}, "person.identity", "malformed_request", 400, "purpose"),
        (
            "unnamed authorization",
            {"purpose": "SOCIAL_INTEGRATION", "authorization": "ISC/99/999"},
            "person.identity",
            "no_authorization",
            403,
            "authorization",
        ),
    ],
)
async def test_refusals_have_codes_fields_and_are_audited(
    demo, case, body, service, code, status, field
):
    body = {"subject": demo.held_by("welfare")[0], **body}
    before = await demo.hub.store.audit.count()
    response = await ask(demo, service, body)
    assert response.status_code == status, response.text
    error = response.json()
    assert (
        error["code"] == code
        and error.get("field") == field
        and error["message"]
        and error["request_id"]
    )
    assert await demo.hub.store.audit.count() == before + 1
    assert (await last_audit(demo)).outcome == code


@pytest.mark.parametrize(
    "content_type, body, status, code",
    [
        ("text/plain", '{"purpose": "SOCIAL_INTEGRATION"}', 415, "unsupported_media_type"),
        ("application/json", '{"purpose": ', 400, "malformed_request"),
        ("application/json; charset=utf-8", "[]", 400, "malformed_request"),
    ],
)
async def test_bodies_the_route_parses_itself_are_refused_clearly_and_audited(
    demo, content_type, body, status, code
):
    token = await demo.token(demo.welfare)
    before = await demo.hub.store.audit.count()
    response = await demo.http.post(
        "/v1/exchange/person.identity",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert await demo.hub.store.audit.count() == before + 1
    assert (await last_audit(demo)).outcome == code


async def test_directory_refusals(demo):
    welfare = set(demo.held_by("welfare", phase=None))
    stranger = next(s for s in demo.seeded["subjects"] if s not in welfare)
    response = await ask(
        demo, "person.identity", {"subject": stranger, "purpose": "SOCIAL_INTEGRATION"}
    )
    assert response.json()["code"] == "subject_not_in_directory"
    # The unemployment office holds job seekers; its authorization for employment requires
    # JOB_SEEKER.
    client = f"{country.BY_KEY['unemployment'].number}:benefits-app"
    job_seeker = demo.held_by("unemployment")[0]
    ok = await ask(
        demo,
        "employment.periods",
        {"subject": job_seeker, "purpose": "UNEMPLOYMENT_BENEFIT"},
        client=client,
    )
    assert ok.status_code == 200, ok.text
    await demo.hub.registry.put_integration_right(
        IntegrationRight(country.BY_KEY["unemployment"].number, "SOCIAL_ASSISTANCE", "test")
    )
    await demo.hub.directory.change(
        {
            "subject": job_seeker,
            "institution": country.BY_KEY["unemployment"].number,
            "capacity": "SOCIAL_ASSISTANCE",
            "start": "2024-01-01",
        },
        None,
        "test",
    )
    await demo.hub.directory.change(
        {
            "op": "remove",
            "subject": job_seeker,
            "institution": country.BY_KEY["unemployment"].number,
            "capacity": "JOB_SEEKER",
        },
        None,
        "test",
    )
    refused = await ask(
        demo,
        "employment.periods",
        {"subject": job_seeker, "purpose": "UNEMPLOYMENT_BENEFIT"},
        client=client,
    )
    assert refused.json()["code"] == "capacity_mismatch"


async def test_expired_authorization_is_named(demo):
    child = demo.held_by("childben")[0]
    client = f"{country.BY_KEY['childben'].number}:benefits-app"
    response = await ask(
        demo,
        "person.identity",
        {"subject": child, "purpose": "CHILD_BENEFIT", "authorization": "ISC/24/301"},
        client=client,
    )
    assert response.status_code == 403 and response.json()["code"] == "authorization_expired"
    current = await ask(
        demo, "person.identity", {"subject": child, "purpose": "CHILD_BENEFIT"}, client=client
    )
    assert current.status_code == 200 and current.json()["authorization"] == "ISC/26/301"


@pytest.mark.parametrize(
    "address, status, code",
    [
        ("http://nowhere.test:1", 502, "provider_unavailable"),
        ("http://failing.test:1", 502, "provider_error"),
        ("http://not-json.test:1", 502, "invalid_provider_response"),
        ("http://off-schema.test:1", 502, "invalid_provider_response"),
    ],
)
async def test_provider_faults_are_named(demo, address, status, code):
    nr = country.BY_KEY["nr"]
    await demo.hub.registry.put_institution(Institution(nr.number, nr.name, "GOV", address))
    response = await ask(
        demo,
        "person.identity",
        {"subject": demo.held_by("welfare")[0], "purpose": "SOCIAL_INTEGRATION"},
    )
    assert response.status_code == status and response.json()["code"] == code, response.text
    assert (await last_audit(demo)).outcome == code


async def test_requests_without_a_valid_token(demo):
    body = {"subject": demo.held_by("welfare")[0], "purpose": "SOCIAL_INTEGRATION"}
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
        response = await demo.http.post("/v1/exchange/person.identity", json=body, headers=headers)
        assert response.status_code == 401 and response.json()["code"] == "unauthenticated"
    token = await demo.token(demo.welfare)
    other = f"{country.BY_KEY['childben'].number}:benefits-app"
    response = await demo.http.post(
        "/v1/exchange/person.identity",
        json=body,
        headers={"Authorization": f"Bearer {token}", "X-Road-Client": other},
    )
    assert response.status_code == 401 and response.json()["code"] == "unauthenticated"


async def test_body_over_the_limit(demo):
    token = await demo.token(demo.welfare)
    response = await demo.http.post(
        "/v1/exchange/person.identity",
        content=b"{" + b" " * 1_100_000 + b"}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"


async def test_open_endpoints_and_closed_ones(demo):
    for path in ("/health", "/ready", "/metrics", "/openapi.json", "/.well-known/jwks.json"):
        assert (await demo.http.get(path)).status_code == 200, path
    for path in ("/admin/institutions", "/listClients"):
        assert (await demo.http.get(path)).status_code == 401, path
