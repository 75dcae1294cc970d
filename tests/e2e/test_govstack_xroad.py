"""The GovStack Information Mediator directory services and X-Road's REST message protocol (r1),
as a client written for them uses them: discovery walked end to end, then the call."""

from __future__ import annotations

import base64
import hashlib

import pytest

from crossroads.demo import country
from crossroads.domain.audit import AuditRecord

pytestmark = pytest.mark.anyio
WELFARE = country.BY_KEY["welfare"].number
NR = country.BY_KEY["nr"].number
PURPOSE = "SOCIAL_INTEGRATION"


async def audit_records(demo) -> list[AuditRecord]:
    return [
        AuditRecord.from_canonical(entry)
        for _, entry in await demo.hub.store.audit.read(0, 100_000)
    ]


def xroad_client(demo, client: str | None = None) -> str:
    institution, application = (client or demo.welfare).split(":")
    return f"{demo.settings.instance}/GOV/{institution}/{application}"


@pytest.mark.parametrize("prefix", ["/r1", ""])
async def test_discovery_walks_from_list_clients_to_a_call_for_every_service(demo, prefix):
    token = await demo.token(demo.welfare)
    headers = {"Authorization": f"Bearer {token}", "X-GovStack-Client": xroad_client(demo)}
    clients = await demo.http.get(f"{prefix}/listClients", headers=headers)
    assert clients.status_code == 200, clients.text
    providers = [
        c["id"]
        for c in clients.json()["member"]
        if c["id"]["objectType"] == "APPLICATION"
        and c["id"]["applicationCode"] in ("services", "routed")
    ]
    assert {"memberCode": NR, "applicationCode": "services"}.items() <= {
        k: v for p in providers for k, v in p.items() if p["memberCode"] == NR
    }.items()
    subject = demo.held_by("welfare")[0]
    called: set[str] = set()
    for provider in providers:
        ids = ("instanceId", "memberClass", "memberCode", "applicationCode")
        base = "/".join([prefix, *(provider[k] for k in ids)])
        listed = await demo.http.get(f"{base}/listMethods", headers=headers)
        assert listed.status_code == 200, (base, listed.text)
        assert listed.json()["member"], f"{base} offers nothing, yet is listed as a provider"
        allowed = await demo.http.get(f"{base}/allowedMethods", headers=headers)
        for method in allowed.json()["member"]:
            code = method["serviceCode"]
            spec = await demo.http.get(
                f"{base}/getOpenAPI", params={"serviceCode": code}, headers=headers
            )
            assert spec.status_code == 200, spec.text
            [r1_path] = [p for p in spec.json()["paths"] if p.startswith("/r1/")]
            assert r1_path in [e["path"] for e in method["endpointList"]["member"]]
            answer = await demo.http.post(
                r1_path,
                headers={
                    "Authorization": f"Bearer {token}",
                    "X-Road-Client": xroad_client(demo),
                    "X-Crossroads-Purpose": PURPOSE,
                },
                json={"subject": subject},
            )
            assert answer.status_code == 200, (r1_path, answer.text)
            assert answer.json()["service"] == code and answer.json()["answers"]
            called.add(code)
    # Every service the welfare centre is authorized for, fixed or routed per person.
    registered = {s.code for s in await demo.hub.registry_queries.services()}
    authorized = await demo.hub.registry_queries.authorizations(consumer=WELFARE)
    assert called == {a.service for a in authorized if a.service in registered}
    assert "health.affiliation" in called


async def test_a_routed_service_is_offered_by_the_hub_and_described(demo):
    token = await demo.token(demo.welfare)
    headers = {"Authorization": f"Bearer {token}"}
    routed = f"/r1/{demo.settings.instance}/GOV/hub/routed"
    methods = (await demo.http.get(f"{routed}/listMethods", headers=headers)).json()["member"]
    assert [m["serviceCode"] for m in methods] == ["health.affiliation"]
    spec = await demo.http.get(
        f"{routed}/getOpenAPI", params={"serviceCode": "health.affiliation"}, headers=headers
    )
    assert spec.status_code == 200 and "/v1/exchange/health.affiliation" in spec.json()["paths"]
    fund = country.BY_KEY["fund_a"].number
    wrong = await demo.http.get(f"/r1/BE/GOV/{fund}/services/listMethods", headers=headers)
    assert wrong.status_code == 200 and wrong.json()["member"] == []


@pytest.mark.parametrize("code", ["", None])
async def test_get_openapi_without_a_service_code_is_a_bad_request(demo, code):
    token = await demo.token(demo.welfare)
    params = {} if code is None else {"serviceCode": code}
    answer = await demo.http.get(
        f"/r1/BE/GOV/{NR}/services/getOpenAPI",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 400 and answer.json()["field"] == "serviceCode"


@pytest.mark.parametrize("header", ["X-GovStack-Client", "X-Road-Client"])
async def test_a_client_header_naming_another_client_than_the_token_is_refused(demo, header):
    token = await demo.token(demo.welfare)
    other = xroad_client(demo, f"{country.BY_KEY['childben'].number}:benefits-app")
    for path in ("/listClients", f"/r1/BE/GOV/{NR}/services/listMethods"):
        answer = await demo.http.get(
            path, headers={"Authorization": f"Bearer {token}", header: other}
        )
        assert answer.status_code == 401 and answer.json()["field"] == header, answer.text
    for wrong in (f"EE/GOV/{WELFARE}/case-app", f"BE/COM/{WELFARE}/case-app"):
        elsewhere = await demo.http.get(
            "/listClients", headers={"Authorization": f"Bearer {token}", header: wrong}
        )
        assert elsewhere.status_code == 401, wrong
    mine = await demo.http.get(
        "/listClients", headers={"Authorization": f"Bearer {token}", header: xroad_client(demo)}
    )
    assert mine.status_code == 200


def expected_hash(method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> str:
    """X-Road-Request-Hash as docs/govstack.md defines it, computed on the client's side."""
    lines = [f"{method} {target}"] + [f"{name.lower()}: {value}" for name, value in headers]
    digest = hashlib.sha512("".join(f"{line}\r\n" for line in lines).encode()).digest()
    if body:
        digest = hashlib.sha512(digest + hashlib.sha512(body).digest()).digest()
    return base64.b64encode(digest).decode()


async def test_an_xroad_client_asks_a_service_and_gets_the_protocols_headers(demo):
    token = await demo.token(demo.welfare)
    subject = demo.held_by("welfare")[0]
    path = f"/r1/BE/GOV/{NR}/services/person.identity"
    body = b'{"subject": "%s", "purpose": "%s"}' % (subject.encode(), PURPOSE.encode())
    request = demo.http.build_request(
        "POST",
        path,
        content=body,
        headers={
            "Authorization": f"Bearer {token}",
            "X-Road-Client": xroad_client(demo),
            "X-Road-Id": "my-correlation-1",
            "X-Road-UserId": "BE79122244457",
            "Content-Type": "application/json",
        },
    )
    answer = await demo.http.send(request)
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-road-id"] == "my-correlation-1"
    assert answer.headers["x-road-client"] == xroad_client(demo)
    assert answer.headers["x-road-service"] == f"BE/GOV/{NR}/services/person.identity"
    assert answer.headers["x-road-request-id"] == answer.json()["request_id"]
    sent = [(k.decode(), v.decode()) for k, v in request.headers.raw]
    assert answer.headers["x-road-request-hash"] == expected_hash("POST", path, sent, body)
    assert set(answer.json()["answers"][0]["data"]) <= {"name", "first_names", "birth_date"}
    [record] = [r for r in await audit_records(demo) if r.request_id == answer.json()["request_id"]]
    assert (record.kind, record.outcome, record.consumer, record.purpose) == (
        "exchange",
        "ok",
        WELFARE,
        PURPOSE,
    )
    assert (record.client_request_id, record.user_id) == ("my-correlation-1", "BE79122244457")


@pytest.mark.parametrize(
    "path, headers, body, status, kind",
    [
        # the same checks as our own exchange: authorization, directory, identifier
        ("services/person.identity", {"X-Crossroads-Purpose": "FUN"}, {}, 403, "no_authorization"),
        ("services/person.identity", {}, {"subject": "00000000000"}, 422, "invalid_identifier"),
        # a service asked at a provider that does not offer it
        ("services/health.affiliation", {}, {}, 404, "unknown_service"),
        ("routed/person.identity", {}, {}, 404, "unknown_service"),
        # the body and a header disagree
        (
            "services/person.identity",
            {"X-Crossroads-Purpose": "OTHER"},
            {"purpose": PURPOSE},
            400,
            "malformed_request",
        ),
        # a capacity the authorization does not name
        (
            "services/person.identity",
            {"X-Crossroads-Capacity": "JOB_SEEKER"},
            {},
            403,
            "capacity_mismatch",
        ),
        ("services/person.identity/below", {}, {}, 404, "unknown_service"),
    ],
)
async def test_xroad_refusals_carry_x_road_error_and_are_audited(
    demo, path, headers, body, status, kind
):
    token = await demo.token(demo.welfare)
    member = "hub" if path.startswith("routed") else NR
    answer = await demo.http.post(
        f"/r1/BE/GOV/{member}/{path}",
        headers={
            "Authorization": f"Bearer {token}",
            "X-Road-Client": xroad_client(demo),
            "X-Crossroads-Purpose": PURPOSE,
            **headers,
        },
        json={"subject": demo.held_by("welfare")[0], **body},
    )
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert error == {
        "type": f"Client.{kind}",
        "message": error["message"],
        "detail": error["detail"],
    }
    assert answer.headers["x-road-error"] == f"Client.{kind}"
    records = [r for r in await audit_records(demo) if r.request_id == error["detail"]]
    assert [r.outcome for r in records] == [kind]


async def test_an_xroad_call_needs_its_client_header_and_a_token(demo):
    token = await demo.token(demo.welfare)
    path = f"/r1/BE/GOV/{NR}/services/person.identity"
    body = {"subject": demo.held_by("welfare")[0], "purpose": PURPOSE}
    missing = await demo.http.post(path, headers={"Authorization": f"Bearer {token}"}, json=body)
    assert (
        missing.status_code == 400 and missing.headers["x-road-error"] == "Client.malformed_request"
    )
    anonymous = await demo.http.post(path, headers={"X-Road-Client": xroad_client(demo)}, json=body)
    assert anonymous.json()["type"] == "Client.unauthenticated"
    got = await demo.http.get(
        path, headers={"Authorization": f"Bearer {token}", "X-Road-Client": xroad_client(demo)}
    )
    assert got.status_code == 405 and got.json()["type"] == "Client.method_not_allowed"


async def test_the_capacity_header_narrows_the_directory_check_to_that_capacity(demo):
    token = await demo.token(demo.welfare)
    answer = await demo.http.post(
        f"/r1/BE/GOV/{NR}/services/person.identity",
        headers={
            "Authorization": f"Bearer {token}",
            "X-Road-Client": xroad_client(demo),
            "X-Crossroads-Purpose": PURPOSE,
            "X-Crossroads-Capacity": "SOCIAL_ASSISTANCE",
        },
        json={"subject": demo.held_by("welfare")[0]},
    )
    assert answer.status_code == 200, answer.text
    own = await demo.http.post(
        "/v1/exchange/person.identity",
        headers={"Authorization": f"Bearer {token}"},
        json={"subject": demo.held_by("welfare")[0], "purpose": PURPOSE, "capacity": "PENSIONER"},
    )
    assert own.status_code == 403 and own.json()["code"] == "capacity_mismatch"
