"""Fuzz every operation of the OpenAPI document against a real hub, and the witness's: nothing the
caller sends is a 5xx, and every refusal is in our error format with a documented code.

Two passes: schemathesis generates requests from each document (valid ones and, in its negative
mode, wrong types), and a hand-written pass (tests/hostile.py) puts each value generators rarely
produce (NaN, ±inf, integers beyond 64 bits, year 9999 and 10000, control characters, lone
surrogates, deep nesting) into every field of every operation, on both stores.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from crossroads.adapters.keys import HubKeys, make_client_assertion
from crossroads.config import Settings
from crossroads.demo import country, employers
from crossroads.demo.launch import free_port_block, wait_providers, wait_ready
from crossroads.demo.seed import client_key_path
from crossroads.domain.errors import CATALOGUE
from crossroads.entrypoints.api.app import create_app
from crossroads.entrypoints.witness import create_witness_app
from crossroads.verifier import tree_head_bytes

from .. import hostile
from ..conftest import start_demo_hub
from ..support import ASSERTION_TYPE
from .test_citizen_api import sign_in
from .test_real_processes import CLI

schema = schemathesis.openapi.from_dict(create_app(Settings(data_dir=Path("unused"))).openapi())
OPERATOR = "fuzz-operator-token-0123456789"


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("fuzz")
    port = free_port_block(8)
    provider_base = port
    env = {
        **os.environ,
        "CROSSROADS_DATA_DIR": str(data_dir),
        "CROSSROADS_ISSUER": f"http://127.0.0.1:{port}",
        "CROSSROADS_STORE_URL": f"sqlite:///{data_dir / 'crossroads.sqlite3'}",
        "CROSSROADS_ADMIN_TOKEN": OPERATOR,
    }
    seeded = subprocess.run(
        [
            *CLI,
            "demo",
            "--persons",
            "100",
            "--seed-only",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--provider-port-base",
            str(provider_base),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr
    providers = subprocess.Popen(
        [
            *CLI,
            "providers",
            "--jwks",
            str(data_dir / "hub-jwks.json"),
            "--port-base",
            str(provider_base),
        ]
    )
    wait_providers(provider_base, providers)
    hub = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/ready", hub)
        client = f"{country.BY_KEY['welfare'].number}:case-app"
        key = json.loads(client_key_path(data_dir, client).read_text())
        token = httpx.post(
            f"{base}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": make_client_assertion(client, f"{base}/oauth/token", key),
            },
        ).json()["access_token"]
        yield base, token
    finally:
        for process in (hub, providers):
            process.send_signal(signal.SIGTERM)
        for process in (hub, providers):
            process.wait(20)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error(case, live_hub):
    base, token = live_hub
    bearer = (
        OPERATOR
        if case.path.startswith("/admin") or case.path.startswith("/v1/directory")
        else token
    )
    response = case.call(base_url=base, headers={"Authorization": f"Bearer {bearer}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    )
    if response.status_code >= 400 and _header(response, "content-type").startswith("text/html"):
        # A page's refusal is a page in the reader's language (the published statistics'),
        # its code in X-Road-Error as every refusal's.
        code = _header(response, "x-road-error")
        assert code in CATALOGUE, (case.formatted_path, response.status_code, code)
    elif response.status_code >= 400:
        body = response.json()
        code = xroad_code(response, body) or body["code"]
        assert code in CATALOGUE and body["message"], body


def _header(response: Any, name: str) -> str:
    """A header's first value (schemathesis' responses keep every value of a header)."""
    value = response.headers.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return value


def xroad_code(response: Any, body: object) -> str | None:
    """The code of a refusal in X-Road's form (`POST /r1/…/{service}`, docs/govstack.md):
    `X-Road-Error: Client.<code>` and the body `{type, message, detail}`; None for ours."""
    kind = response.headers.get("x-road-error", "")
    if isinstance(kind, list):  # schemathesis' responses keep every value of a header
        kind = kind[0] if kind else ""
    if (
        kind.startswith(("Client.", "Server."))
        and isinstance(body, dict)
        and body.get("type") == kind
        and body.get("message")
        and body.get("detail")
    ):
        return kind.rsplit(".", 1)[1]
    return None


async def _concurrently(send, requests: list, at_once: int = 16) -> list[str]:
    """Send the requests a few at a time (their audit records then share commits, as a busy
    hub's do); return the problems found."""
    found: list[str] = []
    for start in range(0, len(requests), at_once):
        found.extend(
            p
            for p in await asyncio.gather(*(send(r) for r in requests[start : start + at_once]))
            if p
        )
    return found


def _problem(response: httpx.Response) -> str | None:
    """What is wrong with an answer to a hostile request: a 5xx, or a refusal not in our format."""
    if response.status_code >= 500:
        return f"{response.status_code} {response.text[:200]}"
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} not JSON: {response.text[:100]}"
    xroad = xroad_code(response, body)
    if xroad is not None:
        if xroad not in CATALOGUE:
            return f"{response.status_code} X-Road error of no documented code: {xroad}"
        body = {"code": xroad}
    elif not (
        isinstance(body, dict)
        and body.get("code") in CATALOGUE
        and body.get("message")
        and body.get("request_id")
        and response.headers.get("x-road-error") == body["code"]
    ):
        return f"{response.status_code} not our error format: {response.text[:200]}"
    documented = CATALOGUE[body["code"]].status
    if documented != response.status_code:
        return f"{response.status_code} under code {body['code']} (documented as {documented})"
    return None


@pytest.mark.anyio
async def test_hostile_values_in_every_field_of_every_operation_are_4xx_with_a_documented_code(
    tmp_path, store_url
):
    demo = await start_demo_hub(tmp_path, store_url, persons=50, demo=True)
    # A fault must come back as the 500 the caller would see, to be reported with the others.
    demo.http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=demo.app, raise_app_exceptions=False),
        base_url="http://hub.test",
    )
    try:
        me = demo.held_by("welfare")[0]
        numbers = {key: member.number for key, member in country.BY_KEY.items()}
        tokens = {
            key: await demo.token(f"{numbers[key]}:{app}")
            for key, app in (
                ("welfare", "case-app"),
                ("nr", "register-app"),
                ("payroll", "payroll-app"),
            )
        }
        assert (
            await sign_in(demo, me)
        ).status_code == 303  # the citizen's operations read past the session
        mutation = {
            "id": "m-1",
            "subject": me,
            "effective_date": "2025-01-01",
            "payload": {"city": "Namur"},
        }
        # Plausible values for the fields around the hostile one, so that it travels as far as it
        # can.
        baseline = {
            "subject": me,
            "purpose": "SOCIAL_INTEGRATION",
            "period": {"start": "2025-01-01", "end": "2025-01-31"},
            "start": "2025-01-01",
            "userId": me,
            "databaseId": "person.identity",
            "Information-Mediator-Client": "x",
            "capacity": "SOCIAL_ASSISTANCE",
            "institution": numbers["welfare"],
            "consumer": numbers["welfare"],
            "service": "person.identity",
            "publisher": numbers["nr"],
            "office": numbers["payroll"],
            "employer": employers.EMPLOYERS[0][0],
            "legal_basis": "a law",
            "valid_from": "2025-01-01",
            "required_capacities": ["SOCIAL_ASSISTANCE"],
            "allowed_fields": ["name"],
            "response_fields": ["name"],
            "fields": ["city"],
            "jwks": {"keys": []},
            "mutation_type": "person.address-change",
            "payload": mutation["payload"],
            "mutations": [mutation],
            "seqs": [1],
            **mutation,
        }
        paths = {
            "service": "person.identity",
            "mutation_type": "person.address-change",
            "eventType": "person.address-change",
            "instanceId": demo.settings.instance,
            "memberClass": "GOV",
            "memberCode": numbers["nr"],
            "applicationCode": "register-app",
            "enterprise_number": numbers["welfare"],
            "company_id": employers.EMPLOYERS[0][0],
            "kind": "dimona",
            "collection": "capacities",
            "version": "1",
        }

        async def send(request: hostile.HostileRequest) -> str | None:
            path = request.template
            bearer = (
                OPERATOR_FOR_TESTS
                if path.startswith(("/admin", "/v1/directory", "/v1/audit/entries"))
                else tokens["nr"]
                if path.startswith("/v1/mutations")
                else tokens["payroll"]
                if path.startswith("/v1/declarations")
                else tokens["welfare"]
            )
            response = await demo.http.request(
                request.method,
                request.path,
                content=request.content,
                headers={**request.headers, "Authorization": f"Bearer {bearer}"},
            )
            problem = _problem(response)
            return f"{request.describe()}: {problem}" if problem else None

        failures = await _concurrently(
            send, list(hostile.requests(demo.app.openapi(), baseline, paths))
        )
        assert not failures, "\n".join(failures[:40])
    finally:
        await demo.http.aclose()
        await demo.hub.close()


OPERATOR_FOR_TESTS = "operator-secret-for-tests"  # tests/conftest.make_settings


# The witness is its own app (`crossroads witness`), with its own OpenAPI document.
with tempfile.TemporaryDirectory() as _scratch:
    WITNESS_DOCUMENT = create_witness_app(Path(_scratch), {"keys": []}).openapi()
witness_schema = schemathesis.openapi.from_dict(WITNESS_DOCUMENT)


@pytest.fixture
def witness(tmp_path):
    """A witness pinned to a hub key, and a head that key signed (so that fields around a hostile
    one verify)."""
    keys = HubKeys.load_or_create(tmp_path / "hub-keys")
    app = create_witness_app(tmp_path / "witness", keys.jwks())
    root = bytes(range(32))
    head = {
        "tree_size": 5,
        "root_hash": base64.b64encode(root).decode(),
        "timestamp": 1_700_000_000_000,
        "signature": keys.sign_detached(
            tree_head_bytes(5, root, 1_700_000_000_000), {"typ": "crossroads-tree-head"}
        ),
    }
    return app, head


@witness_schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_witness_gives_no_server_error(case, witness):
    app, _ = witness
    response = case.call(app=app)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    )


@pytest.mark.anyio
async def test_hostile_values_in_every_field_of_the_witness_are_4xx_with_a_documented_code(witness):
    app, head = witness
    failures = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://witness.test",
    ) as http:
        for request in hostile.requests(WITNESS_DOCUMENT, {"head": head, "proof_from": 0}, {}):
            response = await http.request(
                request.method, request.path, content=request.content, headers=request.headers
            )
            problem = _problem(response)
            if problem:
                failures.append(f"{request.describe()}: {problem}")
        # The head this witness countersigned stays the honest one.
        assert (await http.get("/witness/v1/tree-heads/latest")).json()["tree_size"] == 5
    assert not failures, "\n".join(failures[:40])
