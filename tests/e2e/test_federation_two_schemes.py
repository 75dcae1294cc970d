"""Two federated hubs of two identifier schemes as real processes: hub A, Belgian, on SQLite;
hub B, Estonian (`CROSSROADS_COUNTRY=EE`, the demo's Estonian country), on PostgreSQL. A's
national register links A's national numbers to B's isikukood; an exchange about a linked person
reaches B under B's identifier, each hub logging it under its own subject hash; an unlinked person
never leaves A; B's mutation about a linked person reaches A's member under A's identifier; and
the citizen of B sees on B's page that A's institution consulted them, via A
(docs/federation.md, "Identifiers across the border")."""

from __future__ import annotations

import json
import threading
from urllib.parse import parse_qsl, urlencode, urlparse

import httpx
import pytest
import uvicorn
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from crossroads.demo import country
from crossroads.demo.estonia import ESTONIA
from crossroads.demo.federation import (
    PEER_NUMBER,
    HubSide,
    border_pairs,
    federate,
    federate_identifiers,
    federate_mutations,
    hold_across,
)
from crossroads.demo.identity_provider import Client, DevelopmentIdentityProvider
from crossroads.demo.launch import free_port_block
from crossroads.domain.subjects import SubjectHasher

from ..conftest import drop_postgres_database, fresh_postgres_database
from .processes import PERSONS, Deployment, wait_for
from .test_federation_processes import _token

WELFARE_A = country.BY_KEY["welfare"].number
REGISTER_A = country.BY_KEY["nr"].number
REGISTER_B = ESTONIA.by_key["nr"].number


class _OnceEach:
    """The identity provider's replay guard: each authorization code is redeemed once."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    async def first_use(self, key: str, expires_at: int) -> bool:
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


class CitizensIdentityProvider:
    """The Estonian citizens' identity provider, outside hub B: an OpenID Connect provider on a
    port of its own that signs anyone in as the isikukood typed in (the demo's development
    provider, served apart from any hub)."""

    def __init__(self, hub_b: str) -> None:
        port = free_port_block(1)
        self.issuer = f"http://127.0.0.1:{port}/idp"
        key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"})
        key.ensure_kid()
        self.provider = DevelopmentIdentityProvider(
            self.issuer,
            {"crossroads-citizen": Client(None, f"{hub_b}/citizen/")},
            key,
            _OnceEach(),
            examples=[],
        )
        provider = self.provider

        async def discovery(request: Request) -> JSONResponse:
            return JSONResponse(provider.metadata())

        async def jwks(request: Request) -> JSONResponse:
            return JSONResponse(provider.jwks())

        async def authorize(request: Request) -> RedirectResponse | JSONResponse:
            form = dict(parse_qsl((await request.body()).decode()))
            subject = form.pop("subject")
            problem = provider.check_authorize(form)
            if problem:
                return JSONResponse({"error": problem}, status_code=400)
            query = urlencode({"code": provider.issue_code(form, subject), "state": form["state"]})
            return RedirectResponse(f"{form['redirect_uri']}?{query}", status_code=303)

        async def token(request: Request) -> JSONResponse:
            status, body = await provider.token(dict(parse_qsl((await request.body()).decode())))
            return JSONResponse(body, status_code=status)

        app = Starlette(
            routes=[
                Route("/idp/.well-known/openid-configuration", discovery),
                Route("/idp/jwks", jwks),
                Route("/idp/authorize", authorize, methods=["POST"]),
                Route("/idp/token", token, methods=["POST"]),
            ]
        )
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for(lambda: self.server.started, what="the identity provider to listen")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _side(d: Deployment, instance: str) -> HubSide:
    token = json.loads((d.data_dir / "secrets.json").read_text())["admin_token"]
    return HubSide(instance, d.issuer, d.data_dir, token)


def _hasher(d: Deployment) -> SubjectHasher:
    secrets = json.loads((d.data_dir / "secrets.json").read_text())
    return SubjectHasher(secrets["subject_hash_secret"].encode())  # as load_secrets reads it


@pytest.fixture
def two_schemes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    store_b = fresh_postgres_database()
    a = Deployment(tmp_path / "a", f"sqlite:///{tmp_path / 'a' / 'hub' / 'crossroads.sqlite3'}")
    b = idp = None
    try:
        b = Deployment(tmp_path / "b", store_b, ESTONIA)
        idp = CitizensIdentityProvider(b.issuer)
        b.env["CROSSROADS_CITIZEN_OIDC_ISSUER"] = idp.issuer
        for d, instance in ((a, "A"), (b, "B")):
            d.env["CROSSROADS_FEDERATION_INSTANCE"] = instance
            # The hubs push to each other on 127.0.0.1, which production refuses.
            d.env["CROSSROADS_ALLOW_INTERNAL_WEBHOOKS"] = "1"
            d.env["CROSSROADS_PUSH_RETRY_BASE_SECONDS"] = "0.2"
            d.env["CROSSROADS_PUSH_RETRY_MAX_SECONDS"] = "1"
            d.start(0)
        with httpx.Client(timeout=10) as http:
            federate(_side(a, "A"), _side(b, "B"), [WELFARE_A], ["person.identity"], http)
            federate_identifiers(_side(a, "A"), "B", REGISTER_A, WELFARE_A, http)
        yield a, b
    finally:
        a.stop_all()
        if b is not None:
            b.stop_all()
        if idp is not None:
            idp.stop()
        drop_postgres_database(store_b)


def _ask(a: Deployment, http: httpx.Client, subject: str) -> httpx.Response:
    return http.post(
        f"{a.url(0)}/v1/exchange/b.person.identity",
        headers={"Authorization": f"Bearer {a.token(0)}"},
        json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
    )


def _by_request_id(records: list[dict]) -> dict[str, dict]:
    return {r["request_id"]: r for r in records if "request_id" in r}


def _sign_in(b: Deployment, idp: str, isikukood: str) -> httpx.Client:
    """A browser at hub B, signed in as the citizen `isikukood` through B's identity provider."""
    browser = httpx.Client(base_url=b.url(0), timeout=10)
    to_idp = browser.get("/citizen/login")
    assert to_idp.status_code == 302, to_idp.text
    params = dict(parse_qsl(urlparse(to_idp.headers["location"]).query))
    back = httpx.post(f"{idp}/authorize", data={**params, "subject": isikukood}, timeout=10)
    assert back.status_code == 303, back.text
    callback = urlparse(back.headers["location"])
    signed_in = browser.get(f"{callback.path}?{callback.query}")
    assert signed_in.status_code == 303, signed_in.text
    return browser


def test_an_exchange_across_two_schemes_carries_each_hub_its_own_identifier(two_schemes):
    a, b = two_schemes
    [(mine, theirs), (unlinked, _)] = border_pairs(country.BELGIUM, ESTONIA, PERSONS, 2)
    assert mine in a.subjects and theirs in b.subjects
    with httpx.Client(timeout=10) as http:
        register = _token(a, f"{REGISTER_A}:register-app")
        # A checks B's identifier by B's scheme (B's document declares EE): a Belgian number is
        # not an isikukood.
        wrong = http.post(
            f"{a.url(0)}/v1/identifiers/B/links",
            headers=register,
            json={"subject": mine, "identifier": unlinked},
        )
        assert wrong.status_code == 422 and wrong.json()["code"] == "invalid_identifier"
        recorded = http.post(
            f"{a.url(0)}/v1/identifiers/B/links",
            headers=register,
            json={"subject": mine, "identifier": theirs},
        )
        assert recorded.status_code == 201, recorded.text

        answer = wait_for(
            lambda: (r := _ask(a, http, mine)).status_code == 200 and r,
            what="A to ask B under the link",
        )
        [only] = answer.json()["answers"]
        assert only["provider"] == PEER_NUMBER
        expected = ESTONIA.identity(theirs)  # B's population register answered about theirs
        assert only["data"] == {k: expected[k] for k in ("name", "first_names", "birth_date")}
        rid = answer.json()["request_id"]

        refused = _ask(a, http, unlinked)
        assert refused.status_code == 404 and refused.json()["code"] == "no_identifier_link"
        refused_rid = refused.json()["request_id"]

    a_log, b_log = _by_request_id(a.audit_records()), _by_request_id(b.audit_records())
    assert a_log[rid]["subject_hash"] == _hasher(a).hex(mine)
    assert b_log[rid]["subject_hash"] == _hasher(b).hex(theirs)
    assert a_log[rid]["detail"]["identifiers"]["B"]["authority"] == REGISTER_A
    assert b_log[rid]["consumer"] == WELFARE_A and b_log[rid]["detail"] == {"via": "A"}
    assert b_log[rid]["providers"] == [REGISTER_B]
    assert a_log[refused_rid]["outcome"] == "no_identifier_link"
    assert refused_rid not in b_log  # the unlinked person never left A

    # The citizen of B signs in at B with their isikukood and sees A's welfare office (by the
    # name B registered it under) consult them, via A.
    idp = b.env["CROSSROADS_CITIZEN_OIDC_ISSUER"]
    browser = _sign_in(b, idp, theirs)
    try:
        page = browser.get("/citizen/", headers={"Accept-Language": "en"})
        listed = browser.get("/v1/citizen/consultations")
    finally:
        browser.close()
    assert page.status_code == 200, page.text
    assert country.BY_KEY["welfare"].name in page.text and "through the hub A" in page.text
    assert listed.status_code == 200, listed.text
    [seen] = [c for c in listed.json()["consultations"] if c["request_id"] == rid]
    assert seen["via"] == {"hub": "A"} and seen["outcome"] == "ok"
    assert seen["institution"] == {
        "enterprise_number": WELFARE_A,
        "name": country.BY_KEY["welfare"].name,
    }
    for d in (a, b):
        checked = d.verify_log()
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_mutation_about_a_person_of_b_reaches_a_member_of_a_under_a_identifier(two_schemes):
    a, b = two_schemes
    [(mine, theirs), (_, unlinked)] = border_pairs(country.BELGIUM, ESTONIA, PERSONS, 2)
    with httpx.Client(timeout=10) as http:
        local = federate_mutations(
            _side(a, "A"),
            _side(b, "B"),
            WELFARE_A,
            "person.address-change",
            "SOCIAL_INTEGRATION",
            http,
        )
        # B delivers to a member only the persons B's directory holds for it.
        hold_across(_side(b, "B"), WELFARE_A, "SOCIAL_ASSISTANCE", [theirs, unlinked], http)
        register = _token(a, f"{REGISTER_A}:register-app")
        linked = http.post(
            f"{a.url(0)}/v1/identifiers/B/links",
            headers=register,
            json={"subject": mine, "identifier": theirs},
        )
        assert linked.status_code == 201, linked.text
        welfare = _token(a, f"{WELFARE_A}:case-app")
        subscribed = http.post(
            f"{a.url(0)}/v1/subscriptions",
            headers=welfare,
            json={"mutation_type": local, "purpose": "SOCIAL_INTEGRATION"},
        )
        assert subscribed.status_code == 201, subscribed.text
        b_register = _token(b, f"{REGISTER_B}:register-app")
        for mutation_id, subject in (("ee-linked-1", theirs), ("ee-unlinked-1", unlinked)):
            published = http.post(
                f"{b.url(0)}/v1/mutations/person.address-change",
                headers=b_register,
                json={
                    "id": mutation_id,
                    "subject": subject,
                    "effective_date": "2026-11-30",
                    "payload": {"street": "Rüütli 1", "postcode": "51003", "city": "Tartu"},
                },
            )
            assert published.status_code == 201, published.text

        def received():
            box = http.get(f"{a.url(0)}/v1/mailbox", headers=welfare).json()
            return [m["event"] for m in box["messages"] if m["event"]["id"] == "ee-linked-1"]

        [event] = wait_for(received, timeout=30, what="the linked mutation to cross")

        def uses():
            found = {
                r["target"]: r
                for r in a.audit_records()
                if r.get("action") == "identifier_link.use"
            }
            return found if {"ee-linked-1", "ee-unlinked-1"} <= set(found) else None

        logged = wait_for(uses, timeout=30, what="A to look both persons up")
        box = http.get(f"{a.url(0)}/v1/mailbox", headers=welfare).json()
    assert event["subject"] == mine and event["data"]["city"] == "Tartu"
    assert event["source"] == f"urn:crossroads:institution:{PEER_NUMBER}"
    assert logged["ee-linked-1"]["outcome"] == "ok"
    assert logged["ee-unlinked-1"]["outcome"] == "no_identifier_link"
    assert not [m for m in box["messages"] if m["event"]["id"] == "ee-unlinked-1"]
    delivered = [
        r
        for r in b.audit_records()
        if r.get("action") == "mutation.deliver" and r.get("target") == "ee-linked-1"
    ]
    assert any(r["application"] == "peer.A" and r["consumer"] == WELFARE_A for r in delivered)
    for d in (a, b):
        checked = d.verify_log()
        assert checked.returncode == 0, checked.stdout + checked.stderr
