"""Signing in to the portal for each audience through OpenID Connect, with the demo's development
identity provider's personas and the claims they carry; every form carries a CSRF token and
signing out is a POST."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlparse

import pytest

from crossroads.demo import country, employers

from ..conftest import start_demo_hub
from .portal_browsing import SAME_ORIGIN, browser, csrf_of, sign_in

pytestmark = pytest.mark.anyio
EMPLOYER = employers.EMPLOYERS[0][0]
PAYROLL = country.BY_KEY["payroll"].number
WELFARE = country.BY_KEY["welfare"].number


@pytest.fixture
async def portal_demo(tmp_path):
    demo = await start_demo_hub(tmp_path, persons=20, demo=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


@pytest.mark.parametrize(
    ("persona", "landing", "organisation"),
    [
        ("employer", "/portal/employer/", EMPLOYER),
        ("payroll-office", "/portal/employer/", PAYROLL),
        ("institution-manager", "/portal/institution/", WELFARE),
    ],
)
async def test_a_professional_signs_in_for_the_organisation_the_provider_vouches_for(
    portal_demo, persona, landing, organisation
):
    async with browser(portal_demo) as client:
        landed = await sign_in(client, "/portal/login", persona)
        assert landed.status_code == 303 and landed.headers["location"] == landing
        home = await client.get("/portal/")
        assert organisation in home.text and 'action="/portal/logout"' in home.text
        assert 'id="portal-sign-out"' in home.text


async def test_the_style_sheet_never_carries_a_session_cookie(portal_demo):
    """It is public, for shared caches to keep: no session is read for it (no store read) and no
    cookie is set with it, not even the one that clears a session the hub no longer holds (as a
    page's answer does), which a shared cache could hand to whoever came next."""
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "employer")
        token = csrf_of((await client.get("/portal/")).text)
        kept = client.cookies["crossroads_portal"]
        await client.post("/portal/logout", data={"csrf": token}, headers=SAME_ORIGIN)
        client.cookies.set("crossroads_portal", kept)  # a copy from before the sign-out
        assert "set-cookie" in (await client.get("/portal/")).headers  # a page clears it
        client.cookies.set("crossroads_portal", kept)
        sheet = await client.get("/portal/static/portal.css")
        assert sheet.status_code == 200 and sheet.headers["cache-control"].startswith("public")
        assert "set-cookie" not in sheet.headers


async def test_signing_out_is_a_post_with_the_session_csrf_token(portal_demo):
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "employer")
        home = await client.get("/portal/")
        token = csrf_of(home.text)
        assert (await client.get("/portal/logout")).status_code == 405
        forged = await client.post("/portal/logout", data={"csrf": "guessed"}, headers=SAME_ORIGIN)
        assert forged.status_code == 403 and forged.headers["x-road-error"] == "csrf_failed"
        elsewhere = await client.post(
            "/portal/logout",
            data={"csrf": token},
            headers={"Origin": "https://attacker.test", "Sec-Fetch-Site": "cross-site"},
        )
        assert elsewhere.status_code == 403
        assert EMPLOYER in (await client.get("/portal/")).text  # still signed in
        out = await client.post("/portal/logout", data={"csrf": token}, headers=SAME_ORIGIN)
        assert out.status_code == 303
        assert 'action="/portal/logout"' not in (await client.get("/portal/")).text


async def test_an_identity_without_an_organisation_claim_is_not_let_in(portal_demo):
    async with browser(portal_demo) as client:
        to_idp = await client.get("/portal/login")
        authorize = urlparse(to_idp.headers["location"])
        params = {k: v[0] for k, v in parse_qs(authorize.query).items()}
        back = await client.post(authorize.path, data={**params, "subject": country.persons(1)[0]})
        callback = urlparse(back.headers["location"])
        refused = await client.get(f"{callback.path}?{callback.query}")
        assert refused.status_code == 401 and refused.headers["x-road-error"] == "unauthenticated"


async def test_each_sign_in_offers_only_its_own_audiences_personas(portal_demo):
    async with browser(portal_demo) as client:
        for login, offered, absent in [
            ("/portal/login", "payroll-office", "citizen-1"),
            ("/citizen/login", "citizen-1", "employer"),
            ("/operator/login", "operator", "employer"),
        ]:
            to_idp = await client.get(login)
            page = await client.get(to_idp.headers["location"])
            assert 'id="development-only"' in page.text  # the banner, in Dutch by default
            assert f'value="{offered}"' in page.text and f'value="{absent}"' not in page.text


async def test_the_development_identity_provider_speaks_the_readers_language(portal_demo):
    """As the portal: the browser's Accept-Language, or the switch (then kept in the cookie the
    portal reads too); the banner says what the page is in each; the protocol's own error
    descriptions stay in English, marked so."""
    async with browser(portal_demo) as client:
        to_idp = await client.get("/citizen/login")
        authorize = urlparse(to_idp.headers["location"])
        params = {k: v[0] for k, v in parse_qs(authorize.query).items()}
        address = f"{authorize.path}?{authorize.query}"
        french = await client.get(address, headers={"Accept-Language": "fr-BE,fr;q=0.9"})
        assert french.headers["content-language"] == "fr" and '<html lang="fr">' in french.text
        assert "FOURNISSEUR D'IDENTITÉ DE DÉVELOPPEMENT" in html.unescape(french.text)
        assert "Se connecter en tant que personne de test" in french.text
        german = await client.get(f"{address}&lang=de")
        assert "IDENTITÄTSANBIETER FÜR DIE ENTWICKLUNG" in german.text
        assert 'name="lang"' not in german.text  # the choice is not sent on to the client
        assert client.cookies["crossroads_lang"] == "de"
        switch = re.findall(r'href="(/dev-idp/authorize\?[^"]*lang=fr)"', german.text)
        assert switch and f"client_id={params['client_id']}&" in html.unescape(switch[0])
        nobody = await client.post(authorize.path, data=params)  # no persona, no identifier
        assert nobody.status_code == 400 and '<html lang="de">' in nobody.text
        assert "Wählen Sie eine Testperson" in nobody.text
        wrong = await client.post(authorize.path, data={**params, "response_type": "token"})
        assert wrong.status_code == 400
        assert '<span lang="en">response_type must be code</span>' in wrong.text
        assert "Diese Anmeldeanfrage kann nicht bearbeitet werden" in wrong.text


async def test_the_operator_persona_is_a_registered_admin(portal_demo):
    async with browser(portal_demo) as client:
        landed = await sign_in(client, "/operator/login", "operator")
        assert landed.status_code == 303
        session = await client.get("/operator/session")
        assert session.json()["operator"] == "person:demo-operator"
        assert session.json()["roles"] == ["admin"]


async def test_the_sign_in_page_names_every_audience(portal_demo):
    page = await portal_demo.http.get("/portal/signin")
    for way in ("/citizen/login", "/portal/login", "/operator/login"):
        assert f'href="{way}"' in page.text


async def test_the_front_door_leads_each_audience_to_its_pages(portal_demo):
    page = (await portal_demo.http.get("/portal/?lang=de")).text
    links = {
        "home-rights": "/portal/rights",
        "home-employer": "/portal/signin",  # signed out: the sign-in first
        "home-institution": "/portal/institution/",
        "home-operator": "/operator/",
    }
    for anchor, address in links.items():
        assert f'id="{anchor}" href="{address}"' in page, anchor
        answer = await portal_demo.http.get(address)
        assert answer.status_code == 200, (address, answer.text[:300])
    assert "Meldungen meiner Organisation" in page
    async with browser(portal_demo) as client:
        await sign_in(client, "/portal/login", "employer")
        signed = (await client.get("/portal/?lang=en")).text
        assert 'id="home-employer" href="/portal/employer/"' in signed  # signed in: its pages


@pytest.mark.parametrize("login", ["/portal/login", "/operator/login", "/citizen/login"])
@pytest.mark.parametrize("subject", ["jürgen", "a\u0000b", "x" * 256])
async def test_an_identifier_that_is_not_255_printable_ascii_is_refused_not_a_500(
    portal_demo, login, subject
):
    """OpenID Connect's `sub` is at most 255 ASCII characters; a provider that sends otherwise is
    refused at the callback (a portal user's keyed hash took only ASCII: a 500 before)."""
    async with browser(portal_demo) as client:
        to_idp = await client.get(login)
        authorize = urlparse(to_idp.headers["location"])
        params = {k: v[0] for k, v in parse_qs(authorize.query).items()}
        back = await client.post(authorize.path, data={**params, "subject": subject})
        callback = urlparse(back.headers["location"])
        refused = await client.get(f"{callback.path}?{callback.query}")
        assert refused.status_code == 401 and refused.headers["x-road-error"] == "unauthenticated"
        assert "printable ASCII" in html.unescape(refused.text)
