"""Token endpoint (private_key_jwt) and access token checks."""

from __future__ import annotations

import time

import pytest

from crossroads.adapters.keys import generate_application_key, make_client_assertion
from crossroads.demo import country
from crossroads.services.clock import FixedClock

from ..support import ASSERTION_TYPE

pytestmark = pytest.mark.anyio
AUDIENCE = "http://hub.test/oauth/token"


def form(client_id: str, assertion: str) -> dict:
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }


async def test_replayed_assertion_is_refused_and_audited(demo):
    assertion = make_client_assertion(demo.welfare, AUDIENCE, demo.private_key(demo.welfare))
    first = await demo.http.post("/oauth/token", data=form(demo.welfare, assertion))
    assert first.status_code == 200 and first.json()["token_type"] == "Bearer"
    again = await demo.http.post("/oauth/token", data=form(demo.welfare, assertion))
    assert again.status_code == 401 and again.json()["code"] == "invalid_client"
    assert "replayed" in again.json()["message"]


@pytest.mark.parametrize(
    "case",
    [
        "other key",
        "wrong audience",
        "expired",
        "unknown client",
        "garbage",
        "no grant",
        "other grant",
        "json body",
    ],
)
async def test_bad_token_requests(demo, case):
    key = demo.private_key(demo.welfare)
    client = demo.welfare
    data = None
    if case == "other key":
        key = generate_application_key()
    assertion = make_client_assertion(
        client,
        "http://elsewhere/token" if case == "wrong audience" else AUDIENCE,
        key,
        lifetime=-10 if case == "expired" else 60,
    )
    if case == "unknown client":
        client = f"{country.BY_KEY['nr'].number}:nothing"
        assertion = make_client_assertion(client, AUDIENCE, key)
    data = form(client, "not.a.jwt" if case == "garbage" else assertion)
    if case == "no grant":
        data.pop("grant_type")
    if case == "other grant":
        data["grant_type"] = "password"
    if case == "json body":
        response = await demo.http.post("/oauth/token", json=data)
        assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"
        return
    before = await demo.hub.store.audit.count()
    response = await demo.http.post("/oauth/token", data=data)
    expected = {
        "no grant": (400, "invalid_request"),
        "other grant": (400, "unsupported_grant_type"),
    }.get(case, (401, "invalid_client"))
    assert (response.status_code, response.json()["code"]) == expected, response.text
    assert await demo.hub.store.audit.count() == before + 1


async def test_expired_access_token_is_refused(demo):
    token = await demo.token(demo.welfare)
    tokens = demo.hub.tokens
    tokens._clock = FixedClock(time.time() + 3600)
    try:
        response = await demo.http.post(
            "/v1/exchange/person.identity",
            json={"subject": demo.held_by("welfare")[0], "purpose": "SOCIAL_INTEGRATION"},
            headers={"Authorization": f"Bearer {token}"},
        )
    finally:
        tokens._clock = demo.hub.clock
    assert response.status_code == 401 and "expired" in response.json()["message"]


async def test_jwks_and_metadata_are_published(demo):
    jwks = (await demo.http.get("/.well-known/jwks.json")).json()
    assert jwks["keys"] and all("d" not in k for k in jwks["keys"])
    meta = (await demo.http.get("/.well-known/oauth-authorization-server")).json()
    assert (
        meta["token_endpoint"] == AUDIENCE
        and "private_key_jwt" in meta["token_endpoint_auth_methods_supported"]
    )
