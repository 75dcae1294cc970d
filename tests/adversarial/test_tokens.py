"""Tokens and their revocation, as a member with a valid key would attack them, on both stores.

- A disabled, deleted or re-registered application's access tokens are refused at the next
  request in every hub process sharing the store (two hubs bootstrapped on one store stand for
  two worker processes), and the refusal is audited under that application.
- The numeric claims of a client assertion and of an access token are checked for type as well
  as value: never a 500, never an assertion living longer than the maximum (Hypothesis).
- Token refusals are audited with the request id the answer carries and the client the request
  claims to be, bounded and marked as claimed.
- The request id is the hub's own: two requests never share one, whatever the caller sends.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import KeySet

from crossroads.adapters.keys import (
    ALGORITHMS,
    generate_application_key,
    make_client_assertion,
    public_jwk,
)
from crossroads.bootstrap import bootstrap
from crossroads.demo import country
from crossroads.demo.launch import free_port_block, wait_ready
from crossroads.demo.seed import client_key_path
from crossroads.domain.audit import AuditRecord
from crossroads.entrypoints.api.app import create_app

from ..conftest import start_demo_hub
from ..support import ASSERTION_TYPE

CLI = [sys.executable, "-m", "crossroads.entrypoints.cli"]
AUDIENCE = "http://hub.test/oauth/token"
OPERATOR = {"Authorization": "Bearer operator-secret-for-tests"}
MAX_LIFETIME = 300  # the default CROSSROADS_ASSERTION_MAX_LIFETIME_SECONDS
SKEW = 60


def signed(private_jwk: dict, claims: dict) -> str:
    """A JWT over exactly these claims (NaN and infinities written as JSON's extensions)."""
    key = KeySet.import_key_set({"keys": [private_jwk]}).keys[0]
    return jwt.encode(
        {"alg": "EdDSA", "kid": private_jwk["kid"]}, claims, key, algorithms=ALGORITHMS
    )


def assertion_form(client_id: str, assertion: str) -> dict:
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }


async def last_seq(demo) -> int:
    row = await demo.hub.store.audit_db.fetchone("SELECT COALESCE(MAX(seq), 0) FROM audit_log")
    return row[0]


async def records_after(demo, seq: int) -> list[AuditRecord]:
    return [
        AuditRecord.from_canonical(raw) for _, raw in await demo.hub.store.audit.read(seq + 1, 1000)
    ]


async def exchange(http, token: str, subject: str, **headers):
    return await http.post(
        "/v1/exchange/person.identity",
        json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
        headers={"Authorization": f"Bearer {token}", **headers},
    )


@pytest.fixture
async def two_hubs(tmp_path, store_url):
    """Two hubs on one store, as two worker processes of one deployment: the same data folder
    (keys, secrets), each its own connections, caches and verified-token memory."""
    demo = await start_demo_hub(tmp_path, store_url)
    other = await bootstrap(demo.settings, None, demo.hub.providers)
    other_http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(demo.settings, hub=other)),
        base_url="http://hub.test",
    )
    yield demo, other_http
    await other_http.aclose()
    await other.publisher.close()
    await other.push_queue.close()
    await other.store.close()
    await demo.http.aclose()
    await demo.hub.close()


async def put_application(http, client_id: str, **changes) -> None:
    number, code = client_id.split(":")
    [current] = [
        a
        for a in (await http.get("/admin/applications", headers=OPERATOR)).json()
        if a["client_id"] == client_id
    ]
    body = {
        "name": current["name"],
        "jwks": current["jwks"],
        "active": current["active"],
        **changes,
    }
    answer = await http.put(
        f"/admin/institutions/{number}/applications/{code}", json=body, headers=OPERATOR
    )
    assert answer.status_code == 200, answer.text


@pytest.fixture
async def demo(tmp_path, store_url):
    """The seeded demo hub, on each store."""
    demo_hub = await start_demo_hub(tmp_path, store_url)
    yield demo_hub
    await demo_hub.http.aclose()
    await demo_hub.hub.close()


# --- 1. revocation at once, in every process ---------------------------------------------------


@pytest.mark.anyio
async def test_disabling_an_application_refuses_its_tokens_at_once_in_every_hub_process(two_hubs):
    demo, other = two_hubs
    subject = demo.held_by("welfare")[0]
    token = await demo.token(demo.welfare)
    assert (
        await exchange(other, token, subject)
    ).status_code == 200  # the other process knows the token
    assert (await exchange(demo.http, token, subject)).status_code == 200

    await put_application(demo.http, demo.welfare, active=False)
    mark = await last_seq(demo)
    refused = await exchange(other, token, subject)
    assert refused.status_code == 401 and refused.json()["code"] == "unauthenticated", refused.text
    assert "disabled" in refused.json()["message"]
    [record] = [
        r for r in await records_after(demo, mark) if r.request_id == refused.json()["request_id"]
    ]
    number, code = demo.welfare.split(":")
    assert (record.outcome, record.consumer, record.application) == (
        "unauthenticated",
        number,
        code,
    )
    assert "disabled" in record.detail["reason"]
    assert (await exchange(demo.http, token, subject)).status_code == 401
    new = await demo.http.post(
        "/oauth/token",
        data=assertion_form(
            demo.welfare,
            make_client_assertion(demo.welfare, AUDIENCE, demo.private_key(demo.welfare)),
        ),
    )
    assert new.status_code == 401 and new.json()["code"] == "invalid_client"

    # Enabled again: the tokens from before stay refused; a new one works in both processes.
    await put_application(other, demo.welfare, active=True)
    again = await exchange(demo.http, token, subject)
    assert (
        again.status_code == 401
        and "was disabled after this token was issued" in again.json()["message"]
    )
    fresh = await demo.token(demo.welfare)
    assert (await exchange(other, fresh, subject)).status_code == 200
    assert (await exchange(demo.http, fresh, subject)).status_code == 200


@pytest.mark.anyio
async def test_rotating_an_applications_keys_alone_does_not_revoke_its_tokens(two_hubs):
    demo, other = two_hubs
    subject = demo.held_by("welfare")[0]
    token = await demo.token(demo.welfare)
    await put_application(
        demo.http, demo.welfare, jwks={"keys": [public_jwk(generate_application_key())]}
    )
    assert (await exchange(other, token, subject)).status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize("removed", ["application", "institution"])
async def test_deleting_an_application_or_its_institution_refuses_its_tokens_at_once(
    two_hubs, removed
):
    demo, other = two_hubs
    number = "0202239951"  # a valid enterprise number the demo country does not use
    key = generate_application_key()
    assert (
        await demo.http.put(
            f"/admin/institutions/{number}", json={"name": "Short-lived"}, headers=OPERATOR
        )
    ).status_code == 201
    assert (
        await demo.http.put(
            f"/admin/institutions/{number}/applications/app",
            headers=OPERATOR,
            json={"name": "App", "jwks": {"keys": [public_jwk(key)]}},
        )
    ).status_code == 201
    client = f"{number}:app"
    answer = await demo.http.post(
        "/oauth/token", data=assertion_form(client, make_client_assertion(client, AUDIENCE, key))
    )
    token = answer.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await other.get("/v1/mutation-types", headers=headers)).status_code == 200

    path = f"/admin/institutions/{number}" + (
        "/applications/app" if removed == "application" else ""
    )
    assert (await demo.http.delete(path, headers=OPERATOR)).status_code == 204
    refused = await other.get("/v1/mutation-types", headers=headers)
    assert refused.status_code == 401 and "no longer registered" in refused.json()["message"]
    # Registered again under the same name: the old tokens do not come back to life.
    if removed == "institution":
        await demo.http.put(
            f"/admin/institutions/{number}", json={"name": "Again"}, headers=OPERATOR
        )
    await demo.http.put(
        f"/admin/institutions/{number}/applications/app",
        headers=OPERATOR,
        json={"name": "App", "jwks": {"keys": [public_jwk(key)]}},
    )
    assert (await other.get("/v1/mutation-types", headers=headers)).status_code == 401


# --- 2. claim types ----------------------------------------------------------------------------

BAD_NUMBERS = [
    math.nan,
    math.inf,
    -math.inf,
    True,
    False,
    "1700000000",
    1e20,
    2**63,
    -(2**63),
    None,
    [],
    {},
]


@pytest.mark.anyio
async def test_a_client_assertion_with_an_ill_typed_time_claim_is_refused_and_audited(demo):
    for claim in ("iat", "exp", "nbf"):
        for value in BAD_NUMBERS:
            now = int(time.time())
            claims = {
                "iss": demo.welfare,
                "sub": demo.welfare,
                "aud": AUDIENCE,
                "jti": str(uuid.uuid4()),
                "iat": now,
                "exp": now + 60,
                claim: value,
            }
            mark = await last_seq(demo)
            answer = await demo.http.post(
                "/oauth/token",
                data=assertion_form(demo.welfare, signed(demo.private_key(demo.welfare), claims)),
            )
            assert answer.status_code == 401 and answer.json()["code"] == "invalid_client", (
                claim,
                value,
                answer.text,
            )
            [record] = await records_after(demo, mark)
            assert (record.kind, record.outcome, record.request_id) == (
                "auth",
                "invalid_client",
                answer.json()["request_id"],
            )


@pytest.mark.anyio
async def test_an_access_token_with_an_ill_typed_time_claim_is_refused(demo):
    """Access tokens are the hub's own, but one signed with a bad claim (a bug, a stolen key)
    must not be accepted forever, nor give a 500."""
    number, code = demo.welfare.split(":")
    subject = demo.held_by("welfare")[0]
    epoch = await demo.hub.store.registry.credential_epoch(number, code)

    def token(**claims) -> str:
        now = int(time.time())
        return demo.hub.keys.issue_token(
            {
                "iss": "http://hub.test",
                "sub": demo.welfare,
                "iat": now,
                "exp": now + 60,
                "institution": number,
                "application": code,
                "epoch": epoch,
                **claims,
            }
        )

    assert (
        await exchange(demo.http, token(), subject)
    ).status_code == 200  # the same token, well-typed
    for claim in ("iat", "exp"):
        for value in BAD_NUMBERS:
            answer = await exchange(demo.http, token(**{claim: value}), subject)
            assert answer.status_code == 401 and answer.json()["code"] == "unauthenticated", (
                claim,
                value,
                answer.text,
            )


@pytest.fixture
def loop_hub(tmp_path, store_url):
    """A seeded hub driven from a plain event loop, for Hypothesis (whose tests are not
    coroutines)."""
    loop = asyncio.new_event_loop()
    demo = loop.run_until_complete(start_demo_hub(tmp_path, store_url, persons=20))
    yield loop, demo
    loop.run_until_complete(demo.http.aclose())
    loop.run_until_complete(demo.hub.close())
    loop.close()


ABSENT = object()
times = st.one_of(
    st.just(ABSENT),
    st.tuples(
        st.just("now+"),
        st.one_of(st.integers(-2 * MAX_LIFETIME, 2 * MAX_LIFETIME), st.floats(-700, 700)),
    ),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from(
        [2**63, 2**63 - 1, 2**53 + 1, 1e20, -1e20, 1e308, True, False, "now", None, [], {}]
    ),
)


def resolve(value, now: int):
    return now + value[1] if isinstance(value, tuple) else value


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(iat=times, exp=times, nbf=times)
def test_no_assertion_gives_a_500_or_is_accepted_beyond_the_longest_lifetime(
    loop_hub, iat, exp, nbf
):
    loop, demo = loop_hub
    now = int(time.time())
    claims = {"iss": demo.welfare, "sub": demo.welfare, "aud": AUDIENCE, "jti": str(uuid.uuid4())}
    for name, value in (("iat", iat), ("exp", exp), ("nbf", nbf)):
        if value is not ABSENT:
            claims[name] = resolve(value, now)
    assertion = signed(demo.private_key(demo.welfare), claims)
    answer = loop.run_until_complete(
        demo.http.post("/oauth/token", data=assertion_form(demo.welfare, assertion))
    )
    assert answer.status_code in (200, 401), answer.text
    if answer.status_code == 401:
        assert answer.json()["code"] == "invalid_client"
        return
    late = time.time()

    def finite(value) -> bool:
        return type(value) in (int, float) and math.isfinite(value)

    assert finite(claims["exp"]) and now < claims["exp"]
    issued = claims.get("iat", late)
    assert finite(issued) and issued <= late + SKEW and claims["exp"] - issued <= MAX_LIFETIME
    assert claims["exp"] <= late + SKEW + MAX_LIFETIME
    assert "nbf" not in claims or (finite(claims["nbf"]) and claims["nbf"] <= late + SKEW)


# --- 3. refusals audited with the request id and the claimed client -----------------------------


@pytest.mark.anyio
async def test_a_token_refusal_is_audited_with_its_request_id_and_the_client_it_claims(demo):
    stranger = f"{country.BY_KEY['nr'].number}:nothing"
    mark = await last_seq(demo)
    answer = await demo.http.post(
        "/oauth/token",
        data=assertion_form(
            stranger, make_client_assertion(stranger, AUDIENCE, generate_application_key())
        ),
    )
    assert answer.status_code == 401
    [record] = await records_after(demo, mark)
    assert (record.kind, record.action, record.outcome) == ("auth", "token", "invalid_client")
    assert record.request_id == answer.json()["request_id"] == answer.headers["x-request-id"]
    assert record.detail["claimed"] == {"client_id": stranger, "iss": stranger, "sub": stranger}
    assert record.consumer is None and record.application is None  # nothing vouched for the claim


@pytest.mark.anyio
async def test_what_a_refused_assertion_claims_is_bounded_in_the_audit_record(demo):
    hostile = "\ud800<script>" + "x" * 5000  # a lone surrogate, escaped in the JSON as JSON allows
    payload = base64.urlsafe_b64encode(
        json.dumps({"iss": hostile, "sub": {"nested": [1]}, "exp": 1}).encode()
    )
    assertion = f"eyJhbGciOiJFZERTQSJ9.{payload.decode().rstrip('=')}.c2ln"
    mark = await last_seq(demo)
    answer = await demo.http.post("/oauth/token", data=assertion_form("a" * 3000, assertion))
    assert answer.status_code == 401
    [record] = await records_after(demo, mark)
    claimed = record.detail["claimed"]
    assert (
        claimed["iss"].startswith("?") and "<" not in claimed["iss"] and len(claimed["iss"]) <= 103
    )
    assert (
        claimed["sub"] == "<dict>"
        and len(claimed["client_id"]) <= 103
        and len(record.target) <= 103
    )


def _signed_text(private_jwk: dict, header: bytes, claims: bytes) -> str:
    """A compact JWS over exactly these bytes (a JOSE library writes each key once)."""
    key = KeySet.import_key_set({"keys": [private_jwk]}).keys[0]
    signing_input = b".".join(
        base64.urlsafe_b64encode(part).rstrip(b"=") for part in (header, claims)
    )
    signature = base64.urlsafe_b64encode(key.private_key.sign(signing_input)).rstrip(b"=")
    return (signing_input + b"." + signature).decode()


@pytest.mark.anyio
async def test_a_client_assertion_naming_a_key_twice_is_refused(demo):
    """A parser keeping the first `sub` reads another application than the hub, which kept the
    last: the assertion is refused, whether the claims or the header repeat a key."""
    now = int(time.time())
    me, other = demo.welfare, country.BY_KEY["nr"].number + ":register-app"
    claims = (
        f'{{"iss": "{me}", "sub": "{other}", "sub": "{me}", "aud": "{AUDIENCE}", '
        f'"jti": "{uuid.uuid4()}", "iat": {now}, "exp": {now + 60}}}'
    ).encode()
    key = demo.private_key(me)
    header = b'{"alg": "EdDSA", "kid": "%s"}' % key["kid"].encode()
    repeated_header = b'{"alg": "none", "alg": "EdDSA", "kid": "%s"}' % key["kid"].encode()
    good_claims = claims.replace(b'"sub": "%s", ' % other.encode(), b"")
    for assertion, said in [
        (_signed_text(key, header, claims), "sub: the key appears twice"),
        (_signed_text(key, repeated_header, good_claims), "alg: the key appears twice"),
    ]:
        answer = await demo.http.post("/oauth/token", data=assertion_form(me, assertion))
        assert answer.status_code == 401, answer.text
        assert answer.json()["code"] == "invalid_client" and said in answer.json()["message"]
    # The same claims written once each are taken: the refusals were for the repetition.
    answer = await demo.http.post(
        "/oauth/token",
        data=assertion_form(me, _signed_text(key, header, good_claims)),
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.anyio
async def test_a_token_request_naming_a_parameter_twice_is_refused(demo):
    """RFC 6749 §3.2: a proxy reading the first `client_id` and the hub the last would disagree
    on who asked."""
    assertion = make_client_assertion(demo.welfare, AUDIENCE, demo.private_key(demo.welfare))
    pairs = [("client_id", "someone-else"), *assertion_form(demo.welfare, assertion).items()]
    answer = await demo.http.post(
        "/oauth/token",
        content=urlencode(pairs),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 400, answer.text
    assert (answer.json()["code"], answer.json()["field"]) == ("invalid_request", "client_id")


# --- 6. request ids are the hub's own ----------------------------------------------------------


@pytest.mark.anyio
async def test_two_exchanges_sent_with_one_request_id_are_audited_under_two(demo):
    token = await demo.token(demo.welfare)
    subject = demo.held_by("welfare")[0]
    mark = await last_seq(demo)
    answers = [
        await exchange(demo.http, token, subject, **{"X-Request-Id": "same"}),
        await exchange(demo.http, token, "85073003329", **{"X-Road-Id": "same"}),
    ]  # a refusal
    ids = [a.headers["x-request-id"] for a in answers]
    assert ids[0] != ids[1] and "same" not in ids
    assert answers[0].json()["request_id"] == ids[0] and answers[1].json()["request_id"] == ids[1]
    records = [r for r in await records_after(demo, mark) if r.kind == "exchange"]
    assert [(r.request_id, r.client_request_id) for r in records] == [
        (ids[0], "same"),
        (ids[1], "same"),
    ]


# --- 1, as deployed: worker processes of `crossroads serve` ------------------------------------


@pytest.fixture
def served(tmp_path, store_url):
    """The demo country seeded into the store, served by `crossroads serve --workers 2`."""
    data_dir = tmp_path / "served"
    port = free_port_block(1)
    env = {
        **os.environ,
        "CROSSROADS_DATA_DIR": str(data_dir),
        "CROSSROADS_ISSUER": f"http://127.0.0.1:{port}",
        "CROSSROADS_STORE_URL": store_url,
        "CROSSROADS_WORKERS": "2",
        "CROSSROADS_PORT": str(port),
    }
    seeded = subprocess.run(
        [
            *CLI,
            "demo",
            "--persons",
            "50",
            "--seed-only",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--store-url",
            store_url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr
    # The hub's log (JSON lines, the access log among them) tells which process answered what.
    log = data_dir / "hub.log"
    with log.open("w") as log_file:
        hub = subprocess.Popen([*CLI, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=log_file)
    try:
        wait_ready(f"http://127.0.0.1:{port}/ready", hub)
        yield f"http://127.0.0.1:{port}", data_dir
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait(20)


def test_a_disabled_applications_token_is_refused_by_every_worker_process(served):
    base, data_dir = served
    client = f"{country.BY_KEY['welfare'].number}:case-app"
    number, code = client.split(":")
    key = json.loads(client_key_path(data_dir, client).read_text())
    token = httpx.post(
        f"{base}/oauth/token",
        data=assertion_form(client, make_client_assertion(client, f"{base}/oauth/token", key)),
    ).json()["access_token"]
    admin_token = json.loads((data_dir / "secrets.json").read_text())["admin_token"]
    operator = {"Authorization": f"Bearer {admin_token}"}

    def answers_by_process() -> dict[int, set[int]]:
        """Statuses by the process that answered (its pid, from the access log's line for each
        request id), over new connections, which the two workers take in turn from their one
        listening socket."""
        answered: dict[str, int] = {}
        for attempt in range(300):  # until both processes answered, 40 requests at least
            with httpx.Client(base_url=base) as one_connection:
                answer = one_connection.get(
                    "/v1/mutation-types", headers={"Authorization": f"Bearer {token}"}
                )
                answered[answer.headers["x-request-id"]] = answer.status_code
            if attempt >= 40 and len(set(pids_of(answered).values())) == 2:
                break
        seen: dict[int, set[int]] = {}
        for request_id, pid in pids_of(answered).items():
            seen.setdefault(pid, set()).add(answered[request_id])
        return seen

    def pids_of(answered: dict[str, int]) -> dict[str, int]:
        """The pid of the process whose access-log line names each request id answered."""
        deadline = time.monotonic() + 10
        while True:
            found = {}
            for line in (data_dir / "hub.log").read_text().splitlines():
                entry = json.loads(line) if line.startswith("{") else {}
                if (
                    entry.get("logger") == "crossroads.access"
                    and entry.get("request_id") in answered
                ):
                    found[entry["request_id"]] = entry["pid"]
            if len(found) == len(answered) or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    before = answers_by_process()
    assert len(before) == 2 and set(map(frozenset, before.values())) == {frozenset({200})}
    [app] = [
        a
        for a in httpx.get(f"{base}/admin/applications", headers=operator).json()
        if a["client_id"] == client
    ]
    disabled = httpx.put(
        f"{base}/admin/institutions/{number}/applications/{code}",
        headers=operator,
        json={"name": app["name"], "jwks": app["jwks"], "active": False},
    )
    assert disabled.status_code == 200, disabled.text
    after = answers_by_process()
    assert len(after) == 2 and set(map(frozenset, after.values())) == {frozenset({401})}
