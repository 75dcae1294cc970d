"""Who consulted my data: sign-in through OpenID Connect, the list with proofs, the GovStack
shape."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from crossroads.demo import country
from crossroads.verifier import leaf_hash, verify_inclusion, verify_tree_head

from ..conftest import start_demo_hub
from ..openapi_answers import AnswerChecker

pytestmark = pytest.mark.anyio


@pytest.fixture
async def citizen_demo(tmp_path):
    demo = await start_demo_hub(tmp_path, demo=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


async def sign_in(demo, national_number: str) -> httpx.Response:
    """Walk the browser's way through the hub and the development identity provider."""
    http = demo.http
    to_idp = await http.get("/citizen/login")
    assert to_idp.status_code == 302, to_idp.text
    authorize = urlparse(to_idp.headers["location"])
    assert authorize.path == "/dev-idp/authorize"
    params = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert params["code_challenge_method"] == "S256" and params["nonce"] and params["state"]
    form = await http.get("/dev-idp/authorize", params=params)
    assert form.status_code == 200 and 'id="development-only"' in form.text
    back = await http.post("/dev-idp/authorize", data={**params, "subject": national_number})
    assert back.status_code == 303
    callback = urlparse(back.headers["location"])
    return await http.get(f"{callback.path}?{callback.query}")


async def ask(demo, token: str, subject: str, purpose: str = "SOCIAL_INTEGRATION"):
    headers = {"Authorization": f"Bearer {token}"}
    return await demo.http.post(
        "/v1/exchange/person.identity",
        headers=headers,
        json={"subject": subject, "purpose": purpose},
    )


async def sequence_and_sign(demo) -> None:
    while await demo.hub.sequencer.step():
        pass
    await demo.hub.sequencer.sign_now()


async def test_a_citizen_sees_who_consulted_them_with_proofs(citizen_demo):
    demo = citizen_demo
    me, someone_else = demo.held_by("welfare")[:2]
    token = await demo.token(demo.welfare)
    read_me = await ask(demo, token, me)
    refused_me = await ask(demo, token, me, purpose="NOT_A_PURPOSE")
    assert (read_me.status_code, refused_me.status_code) == (200, 403)
    assert (await ask(demo, token, someone_else)).status_code == 200
    await sequence_and_sign(demo)
    after_head = await ask(demo, token, me)
    assert after_head.status_code == 200

    assert (await sign_in(demo, me)).status_code == 303
    answer = await demo.http.get("/v1/citizen/consultations")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    exchanges = [c for c in body["consultations"] if c["kind"] == "exchange"]
    assert [c["request_id"] for c in exchanges] == [
        r.headers["x-request-id"] for r in (after_head, refused_me, read_me)
    ]
    read, refused = exchanges[2], exchanges[1]
    assert read["allowed"] and read["outcome"] == "ok"
    welfare = country.BY_KEY["welfare"]
    assert read["institution"] == {"enterprise_number": welfare.number, "name": welfare.name}
    assert read["application"]["code"] == "case-app" and read["application"]["name"]
    assert read["service"]["code"] == "person.identity/1" and read["service"]["name"]
    assert read["purpose"] == "SOCIAL_INTEGRATION" and read["authorization"] and read["legal_basis"]
    assert not refused["allowed"] and refused["outcome"] == "no_authorization"
    assert (
        exchanges[0]["proof"] is None
    )  # logged after the last signed head: listed, proof to follow

    jwks = (await demo.http.get("/.well-known/jwks.json")).json()
    size, root = verify_tree_head(body["tree_head"], jwks)
    for item in exchanges[1:]:
        proof = item["proof"]
        assert proof["tree_size"] == size
        entry = base64.b64decode(item["entry"])
        verify_inclusion(
            proof["leaf_index"],
            size,
            leaf_hash(entry),
            [base64.b64decode(h) for h in proof["inclusion_path"]],
            root,
        )
        assert demo.hub.hasher.hex(me).encode() in entry  # the entry is about me, by my keyed hash


async def test_the_list_pages_from_newest_to_oldest(citizen_demo):
    demo = citizen_demo
    me = demo.held_by("welfare")[0]
    token = await demo.token(demo.welfare)
    asked = []
    for _ in range(5):
        response = await ask(demo, token, me)
        assert response.status_code == 200
        asked.append(response.headers["x-request-id"])
    await sign_in(demo, me)
    seen, before = [], None
    while True:
        page = (
            await demo.http.get(
                "/v1/citizen/consultations",
                params={"limit": 2, **({"before": before} if before else {})},
            )
        ).json()
        seen += [c["request_id"] for c in page["consultations"] if c["kind"] == "exchange"]
        before = page["next_before"]
        if before is None:
            break
    assert seen == list(reversed(asked))


async def test_the_govstack_answer_names_the_readers(citizen_demo):
    demo = citizen_demo
    me = demo.held_by("welfare")[0]
    token = await demo.token(demo.welfare)
    read = await ask(demo, token, me)
    assert read.status_code == 200
    await sign_in(demo, me)
    headers = {"Information-Mediator-Client": "BE/GOV/0000000000/portal"}
    usage = await demo.http.get(
        "/govstack/data/myPersonalDataUsage",
        headers=headers,
        params={"userId": me, "databaseId": demo.settings.instance},
    )
    assert usage.status_code == 200, usage.text
    [item] = usage.json()
    assert (
        item["id"] == read.headers["x-request-id"]
        and item["readerInstitutionId"] == demo.welfare.split(":")[0]
    )
    assert item["readerInstitutionName"] and item["readerApplicationName"]
    assert item["searchDateTime"].endswith("Z") and item["refrences"][0]["ReferenceID"]
    only_other = await demo.http.get(
        "/govstack/data/myPersonalDataUsage",
        headers=headers,
        params={"userId": me, "databaseId": "health.affiliation"},
    )
    assert only_other.json() == []
    not_me = await demo.http.get(
        "/govstack/data/myPersonalDataUsage",
        headers=headers,
        params={"userId": demo.held_by("welfare")[1], "databaseId": "BE"},
    )
    assert not_me.status_code == 403 and not_me.json()["code"] == "forbidden"


async def test_the_govstack_answer_takes_the_specifications_user_ids_and_refuses_unknown_databases(
    citizen_demo,
):
    demo = citizen_demo
    me = demo.held_by("welfare")[0]
    read = await ask(demo, await demo.token(demo.welfare), me)
    await sign_in(demo, me)
    headers = {"Information-Mediator-Client": "BE/GOV/0000000000/portal"}

    async def usage(user_id: str, database_id: str) -> httpx.Response:
        return await demo.http.get(
            "/govstack/data/myPersonalDataUsage",
            headers=headers,
            params={"userId": user_id, "databaseId": database_id},
        )

    prefixed = await usage(f"BE{me}", "person.identity")  # the specification's own form
    assert prefixed.status_code == 200, prefixed.text
    assert [i["id"] for i in prefixed.json()] == [read.headers["x-request-id"]]
    unknown = await usage(me, "MCTS")  # an empty list would read "nobody consulted your data"
    assert unknown.status_code == 404 and unknown.json()["field"] == "databaseId"
    checked = [prefixed, unknown, await demo.http.get("/v1/citizen/consultations")]
    for invalid in ("79122244458", "BE7912224445", "not a number"):
        refused = await usage(invalid, demo.settings.instance)
        assert refused.status_code == 400 and refused.json()["field"] == "userId", invalid
        checked.append(refused)
    checker = AnswerChecker()  # and each answer is what docs/openapi.json says it is
    for answer in checked:
        checker.check(answer)
    assert checker.failures == [] and len(checker.checked) == 4


async def test_only_a_signed_in_citizen_sees_a_list(citizen_demo):
    demo = citizen_demo
    answer = await demo.http.get("/v1/citizen/consultations")
    assert answer.status_code == 401 and answer.json()["code"] == "unauthenticated"
    token = await demo.token(demo.welfare)  # an institution's token is not a citizen's session
    assert (
        await demo.http.get(
            "/v1/citizen/consultations", headers={"Authorization": f"Bearer {token}"}
        )
    ).status_code == 401
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=demo.app),
        base_url="http://hub.test",
        cookies={"crossroads_citizen": "eyJjaXRpemVuIjogIjAwIn0=.forged.sig"},
    ) as forger:
        assert (await forger.get("/v1/citizen/consultations")).status_code == 401
    page = await demo.http.get("/citizen/")
    assert page.status_code == 200 and 'id="sign-in"' in page.text
    me = demo.held_by("welfare")[0]
    await sign_in(demo, me)
    assert (await demo.http.get("/v1/citizen/consultations")).status_code == 200
    by_link = await demo.http.get(
        "/citizen/logout"
    )  # a link or an image elsewhere signs no one out
    # On the citizen's pages a refusal is a page (docs/errors.md), with its code in the header.
    assert by_link.status_code == 405 and by_link.headers["x-road-error"] == "method_not_allowed"
    csrf = re.search(r'name="csrf" value="([^"]+)"', (await demo.http.get("/citizen/")).text)[1]
    without_token = await demo.http.post(
        "/citizen/logout", headers={"Origin": "http://hub.test", "Sec-Fetch-Site": "same-origin"}
    )
    assert (
        without_token.status_code == 403 and without_token.headers["x-road-error"] == "csrf_failed"
    )
    from_elsewhere = await demo.http.post(
        "/citizen/logout", headers={"Origin": "https://attacker.test"}, data={"csrf": csrf}
    )
    assert (
        from_elsewhere.status_code == 403
        and from_elsewhere.headers["x-road-error"] == "csrf_failed"
    )
    cross_site = await demo.http.post(
        "/citizen/logout",
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "http://hub.test"},
        data={"csrf": csrf},
    )
    assert cross_site.status_code == 403
    assert (await demo.http.get("/v1/citizen/consultations")).status_code == 200  # still signed in
    signed_out = await demo.http.post(
        "/citizen/logout",
        headers={"Origin": "http://hub.test", "Sec-Fetch-Site": "same-origin"},
        data={"csrf": csrf},
    )
    assert signed_out.status_code == 303
    assert (await demo.http.get("/v1/citizen/consultations")).status_code == 401


async def test_a_sign_in_the_hub_did_not_start_is_refused(citizen_demo):
    demo = citizen_demo
    me = demo.held_by("welfare")[0]
    to_idp = await demo.http.get("/citizen/login")
    params = {k: v[0] for k, v in parse_qs(urlparse(to_idp.headers["location"]).query).items()}
    back = await demo.http.post("/dev-idp/authorize", data={**params, "subject": me})
    callback = urlparse(back.headers["location"])
    # Another browser (no session with this state) brings the same code back: refused.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=demo.app), base_url="http://hub.test"
    ) as other:
        stolen = await other.get(f"{callback.path}?{callback.query}")
    # A browser page: the message, the stable code, and a way to sign in again. This browser
    # started no sign-in: to it, the answer is one that expired.
    assert stolen.status_code == 401 and stolen.headers["X-Road-Error"] == "sign_in_expired"
    assert (
        stolen.headers["content-type"].startswith("text/html")
        and 'id="error"' in stolen.text
        and 'id="sign-in"' in stolen.text
    )
    # The identity provider refuses a code twice, even in the browser that asked for it.
    first = await demo.http.get(f"{callback.path}?{callback.query}")
    assert first.status_code == 303
    await demo.http.get("/citizen/login")  # a new state, so the replay reaches the token endpoint
    replay = await demo.http.post(
        "/dev-idp/token",
        data={
            "grant_type": "authorization_code",
            "client_id": demo.settings.citizen_oidc_client_id,
            "code": parse_qs(callback.query)["code"][0],
            "redirect_uri": "http://hub.test/citizen/callback",
            "code_verifier": "x" * 43,
        },
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


async def test_an_identifier_that_is_not_a_national_number_is_refused(citizen_demo):
    answer = await sign_in(citizen_demo, "not-a-number")
    assert answer.status_code == 401 and answer.headers["X-Road-Error"] == "unauthenticated"
    assert "not a valid national number" in answer.text


async def test_the_development_identity_provider_exists_only_in_demo_mode(demo):
    assert (await demo.http.get("/dev-idp/.well-known/openid-configuration")).status_code == 404
    answer = await demo.http.get("/citizen/login")
    assert (
        answer.status_code == 404
        and "not configured" in answer.text
        and 'id="sign-in"' not in answer.text
    )


def test_a_development_issuer_outside_demo_mode_stops_the_hub(tmp_path):
    from pydantic import ValidationError

    from ..conftest import make_settings

    with pytest.raises(ValidationError, match="only in demo mode"):
        make_settings(tmp_path, citizen_oidc_issuer="http://hub.test/dev-idp")


@pytest.mark.parametrize(
    "claim, country_code, expected",
    [
        ("85073003328", "BE", "85073003328"),
        ("BE85073003328", "BE", "85073003328"),
        ("EE38001085718", "EE", "38001085718"),
        ("PNOEE-38001085718", "EE", "38001085718"),
        (
            "EE38001085718",
            "BE",
            "EE38001085718",
        ),  # another country's code stays, and fails the scheme
    ],
)
def test_the_country_code_in_front_of_a_claimed_identifier_is_removed(
    claim, country_code, expected
):
    from crossroads.domain.identifiers import identifier_from_claim

    assert identifier_from_claim(claim, country_code) == expected


async def test_the_citizen_sees_which_witnesses_countersigned_the_head(citizen_demo):
    demo = citizen_demo
    me = demo.held_by("welfare")[0]
    assert (await ask(demo, await demo.token(demo.welfare), me)).status_code == 200
    await sequence_and_sign(demo)
    head = await demo.hub.store.transparency.latest_head()
    await demo.hub.store.transparency.put_cosignature(
        head.tree_size, "https://witness.example", "e30..c2ln"
    )
    await sign_in(demo, me)
    listed = (await demo.http.get("/v1/citizen/consultations")).json()
    assert listed["tree_head"]["cosignatures"] == [
        {"witness": "https://witness.example", "cosignature": "e30..c2ln"}
    ]
    page = await demo.http.get("/citizen/")
    assert 'class="witness">https://witness.example<' in page.text


@pytest.fixture
async def citizen_demo_on(tmp_path, store_url):
    """The citizen's sign-in on a small demo hub, on each store."""
    demo = await start_demo_hub(tmp_path, store_url, persons=60, demo=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


async def test_a_change_published_about_a_citizen_shows_who_received_it_and_why(citizen_demo_on):
    demo = citizen_demo_on
    welfare, registers = country.BY_KEY["welfare"], country.BY_KEY["nr"]
    me = demo.held_by("welfare")[0]
    publisher = f"{registers.number}:register-app"
    moved = await demo.http.post(
        "/v1/mutations/person.address-change",
        headers={"Authorization": f"Bearer {await demo.token(publisher)}"},
        json={
            "id": "move-1",
            "subject": me,
            "effective_date": "2026-01-05",
            "payload": {"street": "Rue Haute 1", "postcode": "5000", "city": "Namur"},
        },
    )
    assert moved.status_code == 201 and moved.json()["recipients"] >= 1, moved.text
    token = await demo.token(demo.welfare)
    box = (await demo.http.get("/v1/mailbox", headers={"Authorization": f"Bearer {token}"})).json()
    seqs = [m["seq"] for m in box["messages"] if m["event"]["id"] == "move-1"]
    acked = await demo.http.post(
        "/v1/mailbox/ack", headers={"Authorization": f"Bearer {token}"}, json={"seqs": seqs}
    )
    assert seqs and acked.status_code == 200, acked.text
    holders = await demo.http.post(
        "/v1/holders",
        headers={"Authorization": f"Bearer {token}"},
        json={"subject": me, "purpose": "SOCIAL_INTEGRATION"},
    )
    assert holders.status_code == 200, holders.text
    integrated = await demo.http.post(
        "/v1/directory/changes",
        headers={"Authorization": f"Bearer {token}"},
        json={"subject": me, "capacity": "SOCIAL_ASSISTANCE", "start": "2024-01-01"},
    )
    assert integrated.status_code == 200, integrated.text

    await sign_in(demo, me)
    listed = (await demo.http.get("/v1/citizen/consultations")).json()["consultations"]
    [published] = [c for c in listed if c.get("action") == "mutation.publish"]
    assert published["institution"] == {
        "enterprise_number": registers.number,
        "name": registers.name,
    }
    assert published["service"] == {
        "code": "person.address-change/1",
        "name": "Change of main residence",
    }
    to_welfare = {
        "institution": {"enterprise_number": welfare.number, "name": welfare.name},
        "purpose": "SOCIAL_INTEGRATION",
        "authorization": "ISC/25/401",
        "legal_basis": "Law of 26 May 2002 on the right to social integration, art. 19",
    }
    assert to_welfare in published["recipients"]
    assert all(
        r["purpose"] and r["authorization"] and r["legal_basis"] and r["institution"]["name"]
        for r in published["recipients"]
    )
    [received] = [c for c in listed if c.get("action") == "mutation.deliver"]
    assert (
        received["institution"]["name"] == welfare.name
        and received["service"]["name"] == "Change of main residence"
    )
    assert (received["purpose"], received["authorization"], received["legal_basis"]) == (
        "SOCIAL_INTEGRATION",
        "ISC/25/401",
        to_welfare["legal_basis"],
    )
    [asked] = [c for c in listed if c["kind"] == "exchange"]
    assert (
        asked["service"]["code"] == "directory.holders"
        and "reference directory" in asked["service"]["name"]
    )

    page = (await demo.http.get("/citizen/", headers={"Accept-Language": "en"})).text
    assert "Change of main residence" in page and "published this change" in page
    assert (
        f"<strong>{welfare.name}</strong>, for Right to social integration"
        ' <span class="muted">(SOCIAL_INTEGRATION)</span>, under ISC/25/401' in page
    )
    assert to_welfare["legal_basis"] in page
    assert "Reference directory: holds a file on you (SOCIAL_ASSISTANCE)" in page
    # The same page in Dutch: the purpose and the hub's own entries by their Dutch names.
    dutch = (await demo.http.get("/citizen/", headers={"Accept-Language": "nl-BE"})).text
    assert '<html lang="nl">' in dutch and "Recht op maatschappelijke integratie" in dutch
    assert "Verwijzingsrepertorium: heeft een dossier over u (SOCIAL_ASSISTANCE)" in dutch
    assert "heeft deze wijziging bekendgemaakt" in dutch
    for code in ("person.address-change", "directory.holders", "directory.integrate"):
        assert code not in page  # names, not codes


async def test_a_citizen_sees_a_member_of_a_peer_hub_that_asked_through_it(citizen_demo):
    """The answering side of a cross-hub exchange (docs/federation.md): the peer's signature is
    checked before (tests/e2e/test_federation_processes.py); here this hub's own exchange for the
    foreign member runs, and the citizen's list names the member and the hub it came through."""
    from crossroads.domain.callers import Caller
    from crossroads.domain.errors import Refusal
    from crossroads.services.exchange import ExchangeRequest

    demo = citizen_demo
    me = demo.held_by("welfare")[0]
    welfare = country.BY_KEY["welfare"]
    await demo.hub.exchange.handle(
        ExchangeRequest(
            caller=Caller(institution=welfare.number, application=None),
            service="person.identity",
            subject=me,
            purpose="SOCIAL_INTEGRATION",
            request_id="from-peer-a-1",
            via="A",
            attested_capacities=("SOCIAL_ASSISTANCE",),
        )
    )
    with pytest.raises(Refusal) as refused:  # the peer attests a capacity this hub does not require
        await demo.hub.exchange.handle(
            ExchangeRequest(
                caller=Caller(institution=welfare.number, application=None),
                service="person.identity",
                subject=me,
                purpose="SOCIAL_INTEGRATION",
                request_id="from-peer-a-2",
                via="A",
                attested_capacities=("CHILD_BENEFICIARY",),
            )
        )
    assert refused.value.code == "capacity_mismatch"
    await sign_in(demo, me)
    body = (await demo.http.get("/v1/citizen/consultations")).json()
    [mine] = [c for c in body["consultations"] if c["request_id"] == "from-peer-a-1"]
    assert mine["via"] == {"hub": "A"} and mine["allowed"]
    assert mine["institution"] == {"enterprise_number": welfare.number, "name": welfare.name}
    page = await demo.http.get("/citizen/", headers={"Accept-Language": "nl"})
    assert "via de hub A" in page.text
