"""Signing out ends the session on the server (docs/security.md, "Browser sessions"): a copy of
the cookie taken before signing out is refused after it, for the citizen, the portal and the
operator alike, on both stores; and a session ends at its absolute lifetime however active."""

from __future__ import annotations

import json
from base64 import b64encode

import httpx
import pytest
from itsdangerous import TimestampSigner

from crossroads.demo import country
from crossroads.services.clock import FixedClock
from crossroads.services.session_records import SessionRecords

from ..conftest import start_demo_hub
from .portal_browsing import SAME_ORIGIN, browser, csrf_of, sign_in

pytestmark = pytest.mark.anyio
WELFARE = country.BY_KEY["welfare"].number


@pytest.fixture
async def demo(tmp_path, store_url):
    hub = await start_demo_hub(tmp_path, store_url, persons=20, demo=True)
    yield hub
    await hub.http.aclose()
    await hub.hub.close()


def copied(demo, client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Another browser holding a copy of `client`'s cookies (as one stolen would be)."""
    other = browser(demo)
    other.cookies = httpx.Cookies(dict(client.cookies))
    return other


async def test_a_portal_cookie_copied_before_signing_out_is_refused_after(demo):
    async with browser(demo) as client:
        await sign_in(client, "/portal/login", "institution-manager")
        token = csrf_of((await client.get("/portal/institution/persons")).text)
        async with copied(demo, client) as thief:
            assert (await thief.get("/portal/institution/persons")).status_code == 200
            out = await client.post("/portal/logout", data={"csrf": token}, headers=SAME_ORIGIN)
            assert out.status_code == 303
            page = await thief.get("/portal/institution/persons")
            assert page.status_code == 401 and page.headers["x-road-error"] == "unauthenticated"
            assert 'id="portal-sign-out"' not in (await thief.get("/portal/")).text
            integrate = await thief.post(
                "/portal/institution/persons",
                data={"csrf": token, "action": "integrate", "subject": demo.held_by("welfare")[0]},
                headers=SAME_ORIGIN,
            )
            assert integrate.status_code in (401, 403), integrate.text


async def test_a_citizen_cookie_copied_before_signing_out_is_refused_after(demo):
    async with browser(demo) as client:
        await sign_in(client, "/citizen/login", "citizen-1")
        assert (await client.get("/v1/citizen/consultations")).status_code == 200
        token = csrf_of((await client.get("/citizen/")).text)
        async with copied(demo, client) as thief:
            assert (await thief.get("/v1/citizen/consultations")).status_code == 200
            out = await client.post("/citizen/logout", data={"csrf": token}, headers=SAME_ORIGIN)
            assert out.status_code == 303
            refused = await thief.get("/v1/citizen/consultations")
            assert refused.status_code == 401
            assert refused.headers["x-road-error"] == "unauthenticated"
            # The answer clears the ended session's cookie.
            assert "crossroads_citizen=null" in refused.headers.get("set-cookie", "")


@pytest.mark.parametrize("sign_out", ["/operator/logout", "/operator/sign-out"])
async def test_an_operator_cookie_copied_before_signing_out_is_refused_after(demo, sign_out):
    async with browser(demo) as client:
        await sign_in(client, "/operator/login", "operator")
        csrf = (await client.get("/operator/session")).json()["csrf_token"]
        async with copied(demo, client) as thief:
            assert (await thief.get("/admin/mandates?limit=1")).status_code == 200
            if sign_out == "/operator/logout":
                out = await client.post(sign_out, headers={"X-CSRF-Token": csrf})
                assert out.status_code == 204
            else:  # the pages' button: a form with the token
                out = await client.post(sign_out, data={"csrf": csrf}, headers=SAME_ORIGIN)
                assert out.status_code == 303
            read = await thief.get("/admin/mandates?limit=1")
            assert read.status_code == 401 and read.headers["x-road-error"] == "unauthenticated"
            change = await thief.put(
                "/admin/mandates",
                json={"office": "0200000934", "employer": "0410000192", "valid_from": "2024-01-01"},
                headers={"X-CSRF-Token": csrf},
            )
            assert change.status_code == 401
            assert change.headers["x-road-error"] == "unauthenticated"
            assert (await thief.get("/operator/session")).status_code == 401


async def test_a_signed_cookie_without_a_recorded_session_is_not_signed_in(demo):
    """A cookie signed with the hub's key but naming no recorded session (one set before the
    upgrade, or made with a leaked key) is served as signed out, and cleared."""
    signed = b64encode(json.dumps({"operator": "person:demo-operator", "csrf": "x"}).encode())
    cookie = TimestampSigner(demo.hub.session_secret).sign(signed).decode()
    async with browser(demo) as client:
        client.cookies.set("crossroads_operator", cookie)
        refused = await client.get("/admin/mandates?limit=1")
        assert refused.status_code == 401
        assert refused.headers["x-road-error"] == "unauthenticated"
        assert "crossroads_operator=null" in refused.headers.get("set-cookie", "")


async def test_signing_in_again_ends_the_browsers_earlier_session(demo):
    async with browser(demo) as client:
        await sign_in(client, "/operator/login", "operator")
        async with copied(demo, client) as earlier:
            await sign_in(client, "/operator/login", "operator")
            assert (await client.get("/operator/session")).status_code == 200
            assert (await earlier.get("/operator/session")).status_code == 401


async def test_a_session_ends_at_its_absolute_lifetime_however_active(demo):
    clock = FixedClock(demo.hub.clock.now())
    demo.hub.sessions = SessionRecords(demo.hub.store.browser_sessions, clock, 3600)
    async with browser(demo) as client:
        await sign_in(client, "/citizen/login", "citizen-1")
        for _ in range(5):  # active all along: each request well within the idle timeout
            clock.at += 700
            assert (await client.get("/v1/citizen/consultations")).status_code == 200
        clock.at += 100  # 3600 s after signing in
        assert (await client.get("/v1/citizen/consultations")).status_code == 401
