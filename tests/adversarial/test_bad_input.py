"""Bad input is a 4xx with a documented code, in our error format, and is audited: one test per
class of input that once reached a 500 (docs/security.md, "Bad input is a 4xx…").

Each runs on SQLite and PostgreSQL: the stores fail differently (SQLite on integers beyond 64 bits,
PostgreSQL on text holding U+0000). The fuzzing of every field of every operation with the same
values is tests/e2e/test_fuzz_openapi.py.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3

import httpx
import psycopg
import pytest

from crossroads.adapters.keys import HubKeys
from crossroads.adapters.sql.audit_file import audit_path
from crossroads.adapters.sql.store import sqlite_path
from crossroads.demo import country
from crossroads.domain.audit import AuditRecord
from crossroads.domain.errors import CATALOGUE
from crossroads.domain.registry import Institution
from crossroads.entrypoints.api.schemas import MAX_INTEGER
from crossroads.entrypoints.witness import create_witness_app
from crossroads.verifier import tree_head_bytes

from ..conftest import start_demo_hub
from ..e2e.test_citizen_api import sign_in

pytestmark = pytest.mark.anyio
OPERATOR = {"Authorization": "Bearer operator-secret-for-tests"}


@pytest.fixture
async def demo(tmp_path, store_url):
    hub = await start_demo_hub(tmp_path, store_url, persons=50, demo=True)
    # An internal fault must reach the test as the 500 a caller gets, not as the exception.
    hub.http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hub.app, raise_app_exceptions=False),
        base_url="http://hub.test",
    )
    yield hub
    await hub.http.aclose()
    await hub.hub.close()


def refused(response: httpx.Response, status: int, code: str) -> dict:
    """The refusal's body, once checked: status, documented code, our format (docs/errors.md)."""
    assert (response.status_code, response.headers.get("x-road-error")) == (status, code), (
        response.text
    )
    body = response.json()
    assert body["code"] == code and CATALOGUE[code].status == status and body["message"], body
    assert body["request_id"] and response.headers["x-request-id"] == body["request_id"], body
    return body


async def audited(demo, request_id: str) -> list[AuditRecord]:
    """The audit records written under a request id (the newest few hundred entries)."""
    count = await demo.hub.store.audit.count()
    records = [
        AuditRecord.from_canonical(raw)
        for _, raw in await demo.hub.store.audit.read(max(0, count - 500), 501)
    ]
    return [r for r in records if r.request_id == request_id]


async def refused_and_audited(
    demo, response: httpx.Response, status: int, code: str
) -> AuditRecord:
    body = refused(response, status, code)
    [record] = await audited(demo, body["request_id"])
    assert record.outcome == code
    return record


def _integer_schemas(document: dict, schema: dict, where: str, seen: set[str]):
    """Every integer schema reachable from `schema`, with where it was found."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name not in seen:
            yield from _integer_schemas(
                document, document["components"]["schemas"][name], f"{where}→{name}", seen | {name}
            )
        return
    if schema.get("type") == "integer":
        yield where, schema
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, ()):
            yield from _integer_schemas(document, sub, where, seen)
    for name, sub in schema.get("properties", {}).items():
        yield from _integer_schemas(document, sub, f"{where}.{name}", seen)
    if isinstance(schema.get("items"), dict):
        yield from _integer_schemas(document, schema["items"], f"{where}[]", seen)


async def test_every_integer_the_api_takes_is_bounded_and_huge_or_odd_numbers_are_refused(demo):
    document = demo.app.openapi()
    unbounded = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            inputs = [
                (f"{p['in']}:{p['name']}", p.get("schema", {}))
                for p in operation.get("parameters", [])
            ]
            inputs += [
                ("body", c["schema"])
                for c in operation.get("requestBody", {}).get("content", {}).values()
            ]
            for name, schema in inputs:
                for where, integer in _integer_schemas(document, schema, name, set()):
                    if integer.get("maximum", 2**64) > 2**63 - 1 or integer.get("minimum") is None:
                        unbounded.append(f"{method.upper()} {path} {where}")
    assert not unbounded, unbounded

    for path in (
        "/v1/audit/entries/1e23",
        "/v1/audit/entries/-1",
        "/v1/audit/entries/99999999999999999999999",
        "/v1/audit/proofs/inclusion?leaf_index=99999999999999999999999&tree_size=1",
        "/v1/audit/proofs/consistency?first=0&second=NaN",
    ):
        record = await refused_and_audited(
            demo, await demo.http.get(path, headers=OPERATOR), 400, "malformed_request"
        )
        assert record.action.startswith("GET /v1/audit/")
    assert (await sign_in(demo, demo.held_by("welfare")[0])).status_code == 303
    for before in ("99999999999999999999999", str(2**63), "-1", "1e23"):
        refused(
            await demo.http.get(f"/v1/citizen/consultations?before={before}"),
            400,
            "malformed_request",
        )
        page = await demo.http.get(
            f"/citizen/?before={before}"
        )  # the citizen's page: the refusal is the page
        assert (page.status_code, page.headers["x-road-error"]) == (
            400,
            "malformed_request",
        ) and "<html" in page.text
    # A cursor past the newest entry starts from the newest: the walk over the index's buckets
    # once ran from the cursor down, ~2**50 empty buckets for the largest one allowed.
    newest = await demo.http.get(f"/v1/citizen/consultations?before={MAX_INTEGER}")
    assert (
        newest.status_code == 200
        and newest.json() == (await demo.http.get("/v1/citizen/consultations")).json()
    )


def test_every_route_reads_json_with_the_strict_reader(tmp_path):
    from fastapi.routing import APIRoute

    from crossroads.entrypoints.api.app import create_app
    from crossroads.entrypoints.api.json_input import JSONRoute

    from ..conftest import make_settings

    def routes(of) -> list:
        # FastAPI keeps an included router whole (its routes under `original_router`).
        return [
            r
            for route in of
            for r in (
                routes(route.original_router.routes)
                if hasattr(route, "original_router")
                else [route]
            )
        ]

    apps = [
        create_app(make_settings(tmp_path, demo=True)),
        create_witness_app(tmp_path / "witness", {"keys": []}),
    ]
    found = [route for app in apps for route in routes(app.routes) if isinstance(route, APIRoute)]
    assert len(found) > 60  # the walk reached the included routers' routes
    loose = [f"{route.methods} {route.path}" for route in found if not isinstance(route, JSONRoute)]
    assert not loose, loose


async def test_control_characters_in_a_path_or_query_are_refused_before_any_store_sees_them(demo):
    token = await demo.token(demo.welfare)
    bearer = {"Authorization": f"Bearer {token}"}
    for path in (
        "/v1/exchange/person%00identity",
        "/v1/mutations/person.address%00/batch",
        "/v1/subscriptions/a%01b",
        "/admin/services/x%00/1",
    ):
        method = "DELETE" if "subscriptions" in path or "admin" in path else "POST"
        headers = OPERATOR if path.startswith("/admin") else bearer
        record = await refused_and_audited(
            demo,
            await demo.http.request(method, path, headers=headers, json={}),
            400,
            "malformed_request",
        )
        assert record.action == f"{method} unrouted"
    refused(
        await demo.http.get("/admin/authorizations?consumer=%00", headers=OPERATOR),
        400,
        "malformed_request",
    )


@pytest.mark.parametrize(
    "header",
    ["Authorization", "X-Road-Client", "X-Crossroads-Purpose", "X-Request-Id", "Content-Type"],
)
async def test_a_header_read_as_one_value_sent_twice_is_refused_not_resolved_by_a_guess(
    demo, header
):
    token = await demo.token(demo.welfare)
    subject = demo.held_by("welfare")[0]
    other = await demo.token(demo.welfare)  # a second valid token: still two credentials
    first = {
        "Authorization": f"Bearer {token}",
        "X-Road-Client": f"BE/GOV/{demo.welfare.replace(':', '/')}",
        "X-Crossroads-Purpose": "SOCIAL_INTEGRATION",
        "X-Request-Id": "first-id",
        "Content-Type": "application/json",
    }
    second = {
        "Authorization": f"Bearer {other}",
        "X-Road-Client": "BE/GOV/0200000637/benefits-app",
        "X-Crossroads-Purpose": "CHILD_BENEFIT",
        "X-Request-Id": "second-id",
        "Content-Type": "text/plain",
    }
    headers = [*first.items(), (header, second[header])]
    body = json.dumps({"subject": subject, "purpose": "SOCIAL_INTEGRATION"})
    answer = await demo.http.post("/v1/exchange/person.identity", headers=headers, content=body)
    await refused_and_audited(demo, answer, 400, "malformed_request")
    assert answer.json()["field"] == header.lower()
    # On X-Road's address, in X-Road's form (docs/errors.md), audited the same.
    fund = country.BY_KEY["nr"].number
    answer = await demo.http.post(
        f"/r1/BE/GOV/{fund}/services/person.identity", headers=headers, content=body
    )
    assert (answer.status_code, answer.headers["x-road-error"]) == (
        400,
        "Client.malformed_request",
    ), answer.text
    assert header.lower() in answer.json()["message"]
    assert await audited(demo, answer.json()["detail"])
    # Sent once, the same request is answered.
    answer = await demo.http.post(
        "/v1/exchange/person.identity", headers=list(first.items()), content=body
    )
    assert answer.status_code == 200, answer.text


async def test_lone_surrogates_nan_and_control_characters_in_json_are_refused_naming_the_field(
    demo,
):
    publisher = {
        "Authorization": f"Bearer {await demo.token(country.BY_KEY['nr'].number + ':register-app')}"
    }
    subject = demo.held_by("welfare")[0]

    def mutation(payload: str) -> bytes:
        return b'{"id": "m-1", "subject": "%s", "effective_date": "2025-01-01", "payload": %s}' % (
            subject.encode(),
            payload.encode(),
        )

    cases = [
        ('{"city": "\\ud800"}', "surrogate", None),  # the schema would accept it
        (
            '{"city": 5, "street": "\\ud800"}',
            "surrogate",
            None,
        ),  # the schema would refuse it, echoing the text
        ('{"city": NaN}', "not valid JSON", None),
        ('{"city": 1e999}', "finite", "payload.city"),
        ('{"city": 99999999999999999999999}', "64-bit", "payload.city"),
        ('{"city": "Na\\u0000mur"}', "U+0000", "payload.city"),
        ("[" * 3000 + "]" * 3000, "not valid JSON", None),
        # Read as its last value by the hub, as its first by other parsers (RFC 7493 §2.3).
        ('{"city": 5, "city": "Namur"}', "appears twice", "payload.city"),
    ]
    for payload, said, field in cases:
        response = await demo.http.post(
            "/v1/mutations/person.address-change",
            content=mutation(payload),
            headers={**publisher, "Content-Type": "application/json"},
        )
        body = refused(response, 400, "malformed_request")
        assert said in body["message"] and body.get("field") == field, (payload[:40], body)
        [record] = await audited(demo, body["request_id"])
        assert (
            record.outcome == "malformed_request" and record.consumer == country.BY_KEY["nr"].number
        )
    # The exchange reads its body itself (its direct route): the same reader, the same answers.
    token = await demo.token(demo.welfare)
    response = await demo.http.post(
        "/v1/exchange/person.identity",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        content=b'{"subject": "%s", "purpose": "\\ud800"}' % subject.encode(),
    )
    assert "surrogate" in refused(response, 400, "malformed_request")["message"]
    # Text the stores can keep still goes through: a tab and a newline are not U+0000.
    accepted = await demo.http.post(
        "/v1/mutations/person.address-change",
        headers=publisher,
        json={
            "id": "m-2",
            "subject": subject,
            "effective_date": "2025-01-01",
            "payload": {"city": "Na\tmur\n"},
        },
    )
    assert accepted.status_code == 201, accepted.text


async def test_the_mounted_source_answers_in_our_format_and_audits_what_it_refuses(demo):
    source = "/sources/declarations/services/dimona.periods/1"
    # 2 MiB, announced, then streamed without a length: both stop at the limit.
    record = await refused_and_audited(
        demo, await demo.http.post(source, content=b"x" * (2 << 20)), 413, "payload_too_large"
    )
    assert record.action == f"POST {source}" and record.consumer is None

    async def stream():
        for _ in range(64):
            yield b"x" * 32768

    await refused_and_audited(
        demo, await demo.http.post(source, content=stream()), 413, "payload_too_large"
    )
    await refused_and_audited(demo, await demo.http.post(source, json={}), 401, "unauthenticated")
    await refused_and_audited(demo, await demo.http.get(source), 405, "method_not_allowed")
    # An unknown path is not found, in our format, and not audited: as for the hub's own paths.
    body = refused(
        await demo.http.post("/sources/declarations/nothing-here", json={}), 404, "not_found"
    )
    assert await audited(demo, body["request_id"]) == []
    body = refused(await demo.http.post("/nothing-here", json={}), 404, "not_found")
    assert await audited(demo, body["request_id"]) == []


async def test_a_batch_of_mutations_refuses_each_bad_one_alone_and_audits_it(demo):
    publisher = {
        "Authorization": f"Bearer {await demo.token(country.BY_KEY['nr'].number + ':register-app')}"
    }
    subject = demo.held_by("welfare")[0]
    good = {
        "id": "b-1",
        "subject": subject,
        "effective_date": "2025-01-01",
        "payload": {"city": "Namur"},
    }
    response = await demo.http.post(
        "/v1/mutations/person.address-change/batch",
        headers=publisher,
        json={
            "mutations": [
                good,
                {**good, "id": "b-2", "version": "99"},
                {**good, "id": "b-3", "subject": "12345"},
                {**good, "id": "b-4", "version": "1"},
            ]
        },
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "refused", "refused", "accepted"]
    assert (results[1]["error"]["code"], results[1]["error"]["field"]) == (
        "unknown_mutation_type",
        "version",
    )
    assert results[2]["error"]["code"] == "invalid_identifier"
    records = await audited(demo, response.headers["x-request-id"])
    refusals = sorted((r.detail["index"], r.outcome) for r in records if r.kind == "request")
    assert refusals == [(1, "unknown_mutation_type"), (2, "invalid_identifier")]
    # What concerns the whole batch still refuses it whole: a type no version of which exists.
    refused(
        await demo.http.post(
            "/v1/mutations/no.such-type/batch", headers=publisher, json={"mutations": [good]}
        ),
        404,
        "unknown_mutation_type",
    )


async def test_an_internal_fault_is_a_500_whose_request_id_leads_to_its_audit_record(demo, caplog):
    # The fault lies outside the hub: the national register's server breaks in a way the provider
    # client does not expect (conftest's "crashing.test"), so the exchange meets an exception no
    # refusal names.
    nr = country.BY_KEY["nr"]
    await demo.hub.registry.put_institution(
        Institution(nr.number, nr.name, "GOV", "http://crashing.test:1")
    )
    token = await demo.token(demo.welfare)
    with caplog.at_level(logging.ERROR, logger="crossroads.api"):
        response = await demo.http.post(
            "/v1/exchange/person.identity",
            headers={"Authorization": f"Bearer {token}"},
            json={"subject": demo.held_by("welfare")[0], "purpose": "SOCIAL_INTEGRATION"},
        )
    body = refused(response, 500, "internal_error")
    [record] = await audited(demo, body["request_id"])
    assert (record.kind, record.outcome, record.action) == (
        "request",
        "internal_error",
        "POST /v1/exchange/{service}",
    )
    assert record.consumer == country.BY_KEY["welfare"].number and record.application == "case-app"
    assert any(r.request_id == body["request_id"] and r.exc_info for r in caplog.records)  # type: ignore[attr-defined]


def _rename_audit_table(store_url: str) -> None:
    """What an operator's slip (or a failing disk) does from outside the hub: the audit log's
    table is gone from under it."""
    statement = "ALTER TABLE audit_log RENAME TO audit_log_elsewhere"
    if store_url.startswith("sqlite:///"):
        with sqlite3.connect(audit_path(sqlite_path(store_url))) as conn:
            conn.execute(statement)
    else:
        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute(statement)


async def test_an_answer_whose_audit_record_cannot_be_written_is_a_500_logged_critical(
    demo, caplog
):
    token = await demo.token(demo.welfare)
    bearer = {"Authorization": f"Bearer {token}"}
    _rename_audit_table(demo.settings.store_url)
    with caplog.at_level(logging.ERROR, logger="crossroads.api"):
        refusal = await demo.http.post(
            "/v1/subscriptions", headers=bearer, json={"mutation_type": 5}
        )
        fault = await demo.http.post(
            "/v1/exchange/person.identity",
            headers=bearer,
            json={"subject": demo.held_by("welfare")[0], "purpose": "SOCIAL_INTEGRATION"},
        )
    critical = {r.request_id for r in caplog.records if r.levelno == logging.CRITICAL}  # type: ignore[attr-defined]
    for response in (refusal, fault):
        body = refused(response, 500, "internal_error")
        assert body["request_id"] in critical, caplog.text


# The witness: its own app, run by another party, with no store of the hub's (so not per store).


@pytest.fixture
def witness(tmp_path):
    keys = HubKeys.load_or_create(tmp_path / "hub-keys")
    app = create_witness_app(tmp_path / "witness", keys.jwks())
    root = bytes(range(32))

    def head(size: int = 5, **changes) -> dict:
        signed = {
            "tree_size": size,
            "root_hash": base64.b64encode(root).decode(),
            "timestamp": 1_700_000_000_000,
            "signature": keys.sign_detached(tree_head_bytes(size, root, 1_700_000_000_000), {}),
        }
        return {**signed, **changes}

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://witness.test",
    ), head


def _b64url(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


async def test_the_witness_refuses_hostile_tree_heads_in_our_format(witness):
    http, head = witness
    list_header = _b64url(json.dumps(["EdDSA"]).encode()) + "..AAAA"
    for hostile in (
        {"tree_size": 1.5},
        {"tree_size": "5"},
        {"tree_size": True},
        {"tree_size": -1},
        {"timestamp": 1e20},
        {"signature": 5},
        {"signature": list_header},
        {"signature": _b64url(b"[" * 5000) + "..AAAA"},
        {"root_hash": ["x"]},
        {"root_hash": "%%%"},
    ):
        response = await http.post("/witness/v1/tree-heads", json={"head": head(**hostile)})
        body = refused(response, 422, "invalid_tree_head")
        assert body["field"] == "head", (hostile, body)
    for raw in (
        b'{"head": {"tree_size": 1e999}}',
        b'{"head": {"tree_size": 9223372036854775808}}',
        b'{"head": {"tree_size": NaN}}',
        b'{"head": "\\ud800"}',
        b'{"head": [], "proof_from": 99999999999999999999999}',
        b"[" * 5000,
        b'{"head": {}, "proof_from": -1}',
        b'{"head": {}, "consistency_path": [' + b'"AAAA",' * 64 + b'"AAAA"]}',
    ):
        refused(
            await http.post(
                "/witness/v1/tree-heads", content=raw, headers={"Content-Type": "application/json"}
            ),
            400,
            "malformed_request",
        )
    refused(
        await http.post("/witness/v1/tree-heads", json={"head": head(), "padding": "x" * 100_000}),
        413,
        "payload_too_large",
    )
    for at_most in (
        "-1",
        "99999999999999999999999",
        "1e3",
        "x",
    ):  # an outside review's -1 was a 404
        refused(
            await http.get(f"/witness/v1/tree-heads/latest?at_most={at_most}"),
            400,
            "malformed_request",
        )
    refused(await http.get("/witness/v1/nothing"), 404, "not_found")
    refused(await http.get("/witness/v1/tree-heads"), 405, "method_not_allowed")
    # The honest head is still countersigned afterwards.
    assert (await http.post("/witness/v1/tree-heads", json={"head": head()})).status_code == 200
    await http.aclose()
