"""The citizen's personal page: their data as the authentic sources hold it, asked through the hub
under their own access, each look-up audited so that their list of who consulted their data shows
it; the identifier is never readable in the session cookie."""

from __future__ import annotations

import base64

import orjson
import pytest

from crossroads.adapters.in_process_sources import InProcessSources
from crossroads.demo import country, own_access
from crossroads.demo.employers import employed
from crossroads.entrypoints.api.declarations_source import MOUNT, source_app
from crossroads.services.ports import ProviderClient, ProviderReply
from crossroads.services.signed_call import ask_signed

from ..conftest import start_demo_hub
from .portal_browsing import SAME_ORIGIN, browser, csrf_of, sign_in

pytestmark = pytest.mark.anyio
PERSONS = 20
ME = country.persons(3)[2]  # the demo's third test citizen: employed, so DIMONA has periods


@pytest.fixture
async def portal_demo(tmp_path):
    demo = await start_demo_hub(tmp_path, persons=PERSONS, demo=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


async def test_a_citizen_sees_their_data_from_each_source_and_their_own_look_ups(portal_demo):
    assert ME in [e[0] for e in employed(country.persons(PERSONS))]
    async with browser(portal_demo) as client:
        landed = await sign_in(client, "/citizen/login", "citizen-3")
        assert landed.status_code == 303
        page = await client.get("/citizen/data?lang=en")
        assert page.status_code == 200, page.text
        identity = country.identity(ME)
        where = country.address(ME)["address"]
        for expected in (
            identity["name"],
            where["street"],
            where["municipality"],
            "Members of your household",
            "Employment periods your employers declared",
            "Health insurance fund",
            country.BY_KEY["nr"].name,
            "OWN/26/004",
        ):
            assert expected in page.text, expected
        assert "could not answer" not in page.text
        listed = (await client.get("/v1/citizen/consultations")).json()["consultations"]
        own = [c for c in listed if c.get("purpose") == "OWN_ACCESS"]
        assert {c["service"]["code"] for c in own} == {
            "person.identity/1",
            "person.address/1",
            "person.household/1",
            "dimona.periods/1",
            "health.affiliation/1",
        }
        assert all(
            c["institution"]["enterprise_number"] == own_access.PORTAL.enterprise_number
            and c["allowed"]
            for c in own
        )
        cookie = client.cookies["crossroads_citizen"]
        assert ME not in base64.b64decode(cookie.split(".")[0] + "==").decode("latin-1")


async def test_a_link_from_another_site_does_not_make_the_look_ups_for_the_person(portal_demo):
    """The session cookie goes with a top-level GET from another site's link: the page opens
    without asking the sources (no look-up logged as the person's own), and asks on the click."""

    async def own_look_ups(client) -> int:
        listed = (await client.get("/v1/citizen/consultations")).json()["consultations"]
        return len([c for c in listed if c.get("purpose") == "OWN_ACCESS"])

    async with browser(portal_demo) as client:
        await sign_in(client, "/citizen/login", "citizen-3")
        for site in ("cross-site", "same-site"):
            held = await client.get("/citizen/data?lang=en", headers={"Sec-Fetch-Site": site})
            assert held.status_code == 200, held.text
            assert 'id="held-back"' in held.text and 'href="/citizen/data"' in held.text
            assert country.identity(ME)["name"] not in held.text
        assert await own_look_ups(client) == 0
        for site in ("same-origin", "none"):  # the hub's own link; an address typed or kept
            asked = await client.get("/citizen/data?lang=en", headers={"Sec-Fetch-Site": site})
            assert 'id="held-back"' not in asked.text
            assert country.identity(ME)["name"] in asked.text
        assert await own_look_ups(client) == 10


async def test_the_data_page_needs_a_signed_in_citizen(portal_demo):
    async with browser(portal_demo) as client:
        answer = await client.get("/citizen/data")
        assert answer.status_code == 401 and answer.headers["x-road-error"] == "unauthenticated"


async def test_an_application_cannot_use_an_own_access_authorization(portal_demo):
    """Only the citizen's session makes own-access look-ups: the portal member's authorization
    does not let an application of another member, or the portal member's own, skip the
    directory."""
    token = await portal_demo.token(portal_demo.welfare)
    answer = await portal_demo.http.post(
        "/v1/exchange/person.identity",
        headers={"Authorization": f"Bearer {token}"},
        json={"subject": ME, "purpose": "OWN_ACCESS"},
    )
    assert answer.status_code == 403 and answer.json()["code"] == "no_authorization"


async def test_a_report_of_wrong_data_reaches_the_source_that_holds_it_and_its_answer_returns(
    portal_demo,
):
    register = f"{country.BY_KEY['nr'].number}:register-app"
    async with browser(portal_demo) as client:
        await sign_in(client, "/citizen/login", "citizen-3")
        page = await client.get("/citizen/data?lang=en")
        token = csrf_of(page.text)
        forged = await client.post(
            "/citizen/report",
            data={"service": "person.address", "message": "wrong street"},
            headers=SAME_ORIGIN,
        )
        assert forged.status_code == 403 and forged.headers["x-road-error"] == "csrf_failed"
        sent = await client.post(
            "/citizen/report",
            data={"csrf": token, "service": "person.address", "message": "I moved in May."},
            headers=SAME_ORIGIN,
        )
        assert sent.status_code == 303, sent.text
        shown = await client.get("/citizen/data?lang=en&reported=1")
        assert "I moved in May." in shown.text and "waiting for the source" in shown.text
        empty = await client.post(
            "/citizen/report",
            data={"csrf": token, "service": "person.address", "message": "  "},
            headers=SAME_ORIGIN,
        )
        assert empty.status_code == 400
        # What the API would refuse, the form refuses too, naming the field; nothing is stored.
        for data, field in (
            ({"service": "person.address", "message": "\x00x"}, "message"),
            ({"service": "employment.periods", "message": "not on my page"}, "service"),
        ):
            odd = await client.post(
                "/citizen/report", data={"csrf": token, **data}, headers=SAME_ORIGIN
            )
            assert odd.status_code in (400, 404) and field in odd.text, odd.text
        for raw in (b"%ED%A0%80", b"%FF%FE"):  # not UTF-8: refused, never turned into U+FFFD
            odd = await client.post(
                "/citizen/report",
                content=b"csrf=" + token.encode() + b"&service=person.address&message=" + raw,
                headers={**SAME_ORIGIN, "Content-Type": "application/x-www-form-urlencoded"},
            )
            assert odd.status_code == 400 and "UTF-8" in odd.text, odd.text
        # The national register, which holds the address, reads it; the welfare centre does not.
        source = {"Authorization": f"Bearer {await portal_demo.token(register)}"}
        listed = (await portal_demo.http.get("/v1/data-reports", headers=source)).json()
        [report] = listed["reports"]
        assert (report["subject"], report["service"]) == (ME, "person.address")
        other = {"Authorization": f"Bearer {await portal_demo.token(portal_demo.welfare)}"}
        assert (await portal_demo.http.get("/v1/data-reports", headers=other)).json()[
            "reports"
        ] == []
        refused = await portal_demo.http.post(
            f"/v1/data-reports/{report['id']}/close", headers=other, json={"answer": "no"}
        )
        assert refused.status_code == 404
        closed = await portal_demo.http.post(
            f"/v1/data-reports/{report['id']}/close",
            headers=source,
            json={"answer": "Corrected: your new address is recorded."},
        )
        assert closed.status_code == 204
        answered = await client.get("/citizen/data?lang=en")
        assert "Corrected: your new address is recorded." in answered.text


class Recorded(ProviderClient):
    """The client every other address goes to: what reached it."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> ProviderReply:
        self.urls.append(url)
        return ProviderReply(200, b"{}", "application/json")


async def test_the_hubs_own_source_is_asked_in_the_process_and_still_checks_the_signature(
    portal_demo,
):
    hub = portal_demo.hub
    fallback = Recorded()
    sources = InProcessSources(fallback, 5)
    sources.mount(hub.settings.issuer + MOUNT, source_app(hub))
    url = f"{hub.settings.issuer}{MOUNT}/services/dimona.periods/1"
    body = orjson.dumps({"subject": ME})
    answer = await ask_signed(sources, hub.keys, hub.clock, url, body, "r-1", "the source")
    assert answer["periods"], answer  # the employed citizen's periods, from the source itself
    signed_elsewhere = await sources.post(
        url,
        body,
        {"X-Crossroads-Signature": hub.keys.sign_detached(body, {"aud": url + "x", "rid": "r"})},
    )
    assert signed_elsewhere.status == 401
    assert orjson.loads(signed_elsewhere.body)["code"] == "unauthenticated"
    unsigned = await sources.post(url, body, {})
    assert unsigned.status == 401
    assert fallback.urls == []
    other = "http://provider.test:9000/services/person.identity/1"
    await sources.post(other, body, {})
    assert fallback.urls == [other]


async def test_the_citizen_reads_the_registrys_names_and_legal_bases_in_their_language(
    portal_demo,
):
    async with browser(portal_demo) as client:
        await sign_in(client, "/citizen/login", "citizen-3")
        data = (await client.get("/citizen/data?lang=fr")).text.replace("&#39;", "'")
        assert "RGPD art. 15 (droit d'accès)" in data and "GDPR art. 15" not in data
        listed = (await client.get("/citizen/?lang=de")).text
        assert "DSGVO Art. 15 (Auskunftsrecht)" in listed and "GDPR art. 15" not in listed
        assert "Identität einer Person" in listed and "Identity of a person" not in listed
