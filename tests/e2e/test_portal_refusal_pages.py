"""What the portal says when it refuses, in the reader's language: a sign-in whose answer is
replayed (the callback's address reloaded), the refusal pages' sentence per code, the forms that
come back with the error beside the field, the reason of a refused batch file and its
acknowledgement for the browser's session, and the citizen's signed-in bar on every citizen
page, error pages included."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from crossroads.demo import country
from crossroads.domain.audit import AuditRecord

from ..conftest import start_demo_hub
from .portal_browsing import SAME_ORIGIN, browser, csrf_of, switch_link

pytestmark = pytest.mark.anyio
STATE_MISMATCH = "CSRF Warning"  # Authlib's own sentence, never shown to a reader


@pytest.fixture
async def portal_demo(tmp_path):
    demo = await start_demo_hub(tmp_path, persons=20, demo=True)
    yield demo
    await demo.http.aclose()
    await demo.hub.close()


async def callback_address(client: httpx.AsyncClient, login: str, choice: dict) -> str:
    """Go to the development identity provider through `login`, choose (`persona` or
    `subject`), and answer the address it sends the browser back to (not yet visited)."""
    to_idp = await client.get(login)
    authorize = urlparse(to_idp.headers["location"])
    params = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    back = await client.post(authorize.path, data={**params, **choice})
    assert back.status_code == 303, back.text
    callback = urlparse(back.headers["location"])
    return f"{callback.path}?{callback.query}"


async def audited_outcomes(demo) -> list[str]:
    return [
        AuditRecord.from_canonical(raw).outcome
        for _, raw in await demo.hub.store.audit.read(0, 1_000_000)
    ]


@pytest.mark.parametrize(
    ("login", "choice", "again"),
    [
        ("/portal/login", {"persona": "employer"}, "/portal/login"),
        ("/citizen/login", {"persona": "citizen-3"}, "/citizen/login"),
        ("/operator/login", {"subject": "alice"}, "/operator/login"),
    ],
)
async def test_a_reloaded_sign_in_answer_is_a_translated_page_with_a_way_to_sign_in_again(
    portal_demo, login, choice, again
):
    async with browser(portal_demo) as client:
        address = await callback_address(client, login, choice)
        first = await client.get(address)
        assert first.status_code in (303, 401)  # alice is no registered operator: refused
        before = (await audited_outcomes(portal_demo)).count("sign_in_expired")
        for lang, said in (
            ("fr", "Cette connexion a expiré ou a déjà été utilisée."),
            ("de", "Diese Anmeldung ist abgelaufen oder wurde bereits verwendet."),
            ("nl", "Deze aanmelding is verlopen of werd al gebruikt."),
            ("en", "This sign-in has expired or was already used."),
        ):
            replayed = await client.get(address, headers={"Accept-Language": lang})
            assert replayed.status_code == 401, replayed.text
            assert replayed.headers["x-road-error"] == "sign_in_expired"
            assert replayed.headers["content-type"].startswith("text/html")
            assert said in replayed.text and STATE_MISMATCH not in replayed.text
            assert f'href="{again}"' in replayed.text
        after = (await audited_outcomes(portal_demo)).count("sign_in_expired")
        assert after - before == 4  # each refusal audited, once


async def sign_in_as(client: httpx.AsyncClient, login: str, persona: str) -> None:
    landed = await client.get(await callback_address(client, login, {"persona": persona}))
    assert landed.status_code == 303, landed.text


async def test_a_refusal_page_says_what_its_code_means_in_the_readers_language(portal_demo):
    async with browser(portal_demo) as client:
        await sign_in_as(client, "/portal/login", "employer")
        for lang, said in (
            ("fr", "Vous ne pouvez pas faire ceci."),
            ("de", "Das dürfen Sie nicht."),
            ("nl", "Dit mag u niet doen."),
        ):
            refused = await client.get(f"/portal/institution/persons?lang={lang}")
            assert refused.status_code == 403 and said in refused.text, refused.text
            # The English detail stays beside it, marked as English.
            assert (
                '<span lang="en" class="muted">this page is not for the organisation'
                in refused.text
            )
        missing = await client.get("/portal/employer/declarations/192?lang=de")
        assert missing.status_code == 404 and "Es wurde nichts gefunden." in missing.text


async def persons_form(client, form: dict, lang: str = "en"):
    page = await client.get(f"/portal/institution/persons?lang={lang}")
    return await client.post(
        f"/portal/institution/persons?lang={lang}",
        data={"csrf": csrf_of(page.text), **form},
        headers=SAME_ORIGIN,
    )


async def test_the_persons_form_comes_back_with_the_error_beside_the_field(portal_demo):
    person = country.persons(20)[0]
    async with browser(portal_demo) as client:
        await sign_in_as(client, "/portal/login", "institution-manager")
        wrong = await persons_form(client, {"action": "search", "subject": "12345678901"}, "fr")
        assert wrong.status_code == 422, wrong.text
        assert wrong.headers["x-road-error"] == "invalid_identifier"
        assert 'id="subject-error"' in wrong.text and 'aria-invalid="true"' in wrong.text
        assert "pas un numéro valide." in wrong.text  # the code's sentence, in French
        assert 'value="12345678901"' in wrong.text and 'id="search"' in wrong.text
        assert switch_link(wrong.text, "nl") == "/portal/institution/persons?lang=nl"
        day = await persons_form(
            client,
            {
                "action": "integrate",
                "subject": person,
                "capacity": "SOCIAL_ASSISTANCE",
                "phase": "definitive",
                "start": "3/12/2026",
            },
        )
        assert day.status_code in (400, 422), day.text
        assert 'id="start-error"' in day.text and 'value="3/12/2026"' in day.text
        assert 'id="integrate"' in day.text  # the form again, as typed
    outcomes = await audited_outcomes(portal_demo)
    assert "invalid_identifier" in outcomes


async def upload(client, kind: str, name: str, content: bytes) -> httpx.Response:
    page = await client.get("/portal/employer/batches")
    return await client.post(
        f"/portal/employer/batches/{kind}",
        data={"csrf": csrf_of(page.text)},
        files={"file": (name, content, "application/octet-stream")},
        headers=SAME_ORIGIN,
    )


async def test_a_refused_batch_says_why_and_its_acknowledgement_opens_in_the_session(portal_demo):
    async with browser(portal_demo) as client:
        await sign_in_as(client, "/portal/login", "payroll-office")
        empty = await upload(client, "dimona", "forms.xml", b"")
        assert empty.status_code == 400 and 'id="file-dimona-error"' in empty.text, empty.text
        # The switch reloads the uploads' page (a GET of the form's address is no page).
        assert switch_link(empty.text, "fr") == "/portal/employer/batches?lang=fr"
        assert (await client.get(switch_link(empty.text, "fr"))).status_code == 200
        sent = await upload(client, "dimona", "notes.xml", b"this is no XML")
        assert sent.status_code == 303, sent.text
        assert await portal_demo.hub.declaration_batches.process_waiting() == 1
        page = await client.get(sent.headers["location"] + "?lang=nl")
        assert 'id="batch-refusal"' in page.text and "malformed_xml" in page.text
        assert "Het bestand is geen welgevormde XML, of niet het formulier" in page.text
        # Well-formed, but not the form this upload takes: the sentence says that too.
        other = await upload(client, "dmfa", "quarter.xml", b"<DmfA><Quarter/></DmfA>")
        assert other.status_code == 303, other.text
        assert await portal_demo.hub.declaration_batches.process_waiting() == 1
        read = (await client.get(other.headers["location"] + "?lang=fr")).text
        assert "malformed_xml" in read and "ou n’est pas le formulaire attendu ici." in read
        link = sent.headers["location"] + "/acknowledgement"
        assert f'href="{link}"' in page.text
        acknowledgement = await client.get(link)
        assert acknowledgement.status_code == 200
        assert acknowledgement.json()["error"]["code"] == "malformed_xml"
    async with browser(portal_demo) as other:
        await sign_in_as(other, "/portal/login", "employer")  # not this file's sender
        assert (await other.get(link)).status_code in (403, 404)
    async with browser(portal_demo) as stranger:
        assert (await stranger.get(link)).status_code == 401


async def test_every_citizen_page_shows_the_signed_in_bar_error_pages_too(portal_demo):
    async with browser(portal_demo) as client:
        await sign_in_as(client, "/citizen/login", "citizen-3")
        for address in ("/citizen/", "/citizen/data", "/citizen/rights/simulation"):
            page = await client.get(f"{address}?lang=en")
            assert page.status_code == 200, (address, page.text)
            assert 'action="/citizen/logout"' in page.text and 'id="sign-out"' in page.text
            assert "Signed in." in page.text
            assert 'href="/portal/signin"' not in page.text, address  # no "Sign in" in the nav
        token = csrf_of((await client.get("/citizen/data?lang=en")).text)
        long = await client.post(
            "/citizen/report?lang=fr",
            data={"csrf": token, "service": "person.address", "message": "x" * 2001},
            headers=SAME_ORIGIN,
        )
        # The form again, the message as typed, the error beside it in the reader's language.
        assert long.status_code in (400, 413), long.text
        assert 'id="report-person.address-error"' in long.text and "x" * 2001 in long.text
        assert "Une valeur envoyée" in long.text or "trop volumineux" in long.text
        assert 'action="/citizen/logout"' in long.text
        assert switch_link(long.text, "nl") == "/citizen/data?lang=nl"  # the form's page
        # A refusal shown as the error page says who is signed in too.
        elsewhere = await client.post(
            "/citizen/report?lang=en",
            data={"csrf": token, "service": "employment.periods", "message": "not mine"},
            headers=SAME_ORIGIN,
        )
        assert elsewhere.status_code == 404, elsewhere.text
        assert "Sign in to see the list" not in elsewhere.text
        assert 'action="/citizen/logout"' in elsewhere.text and "Signed in." in elsewhere.text


def published(name: str, title: str, description: str, withheld: int) -> dict:
    """A table's metadata as `crossroads statistics publish` writes it."""
    return {
        "name": name,
        "title": title,
        "description": description,
        "mart": "exchanges",
        "unit": "exchange",
        "dimensions": ["month", "outcome"],
        "aggregate": "count",
        "measure": None,
        "rows": 2,
        "protection": {"threshold": 5, "suppressed_cells": withheld},
        "threshold": 5,
        "generated_at": "2026-12-02T13:14:00Z",
        "files": {kind: f"{name}.{kind}" for kind in ("csv", "parquet", "json")},
    }


async def test_the_statistics_page_speaks_the_readers_language_but_keeps_the_operators_words(
    portal_demo,
):
    columns = {
        "month": ["2026-11", "2026-11"],
        "outcome": ["ok", "subject_not_in_directory"],
        "value": [12, 7],
        "suppressed": [False, False],
    }
    shipped = published(
        "exchanges_by_month",
        "Exchanges through the hub by month and outcome",
        "Calls of a service by a member institution's application.",
        1,
    )
    await portal_demo.hub.open_data.write("exchanges_by_month", columns, shipped)
    own = published("our_own", "Our own count", "As the operator wrote it.", 3)
    await portal_demo.hub.open_data.write("our_own", columns, own)
    async with browser(portal_demo) as client:
        french = (await client.get("/statistics/?lang=fr")).text
        assert "Échanges par le hub par mois et résultat" in french
        assert "Our own count" in french and "As the operator wrote it." in french
        assert "La personne ne figure pas dans le répertoire" in french  # the outcome's code
        assert "2 déc. 2026" in french and "2026-12-02T13:14:00Z" not in french
        english = (await client.get("/statistics/?lang=en")).text
        assert "1 cell withheld in this table" in english
        assert "3 cells withheld in this table" in english


@pytest.mark.parametrize(
    ("address", "sign_in", "lang", "title"),
    [
        ("/portal/employer/", "/portal/signin", "nl", "U bent niet aangemeld."),
        ("/portal/institution/persons", "/portal/signin", "de", "Sie sind nicht angemeldet."),
        ("/portal/employer/declarations", "/portal/signin", "fr", "Vous n’êtes pas connecté."),
    ],
)
async def test_a_page_asked_without_a_session_says_so_and_where_to_sign_in(
    portal_demo, address, sign_in, lang, title
):
    async with browser(portal_demo) as client:
        refused = await client.get(f"{address}?lang={lang}")
    assert refused.status_code == 401 and refused.headers["x-road-error"] == "unauthenticated"
    # Not "signing in did not succeed": nobody tried; the page says so and links to the sign-in.
    assert f"<h1>{title}</h1>" in refused.text.replace("&#39;", "'"), refused.text
    assert f'id="sign-in-first" href="{sign_in}"' in refused.text


async def test_an_operator_form_sent_without_a_session_links_to_the_operators_sign_in(
    portal_demo,
):
    async with browser(portal_demo) as client:
        refused = await client.post(
            "/operator/members?lang=de", data={"csrf": "x"}, headers=SAME_ORIGIN
        )
    assert refused.status_code == 401 and "<h1>Sie sind nicht angemeldet.</h1>" in refused.text
    assert 'id="sign-in-first" href="/operator/login"' in refused.text


async def test_a_mistyped_operator_address_is_a_page_in_the_readers_language(portal_demo):
    async with browser(portal_demo) as client:
        missing = await client.get("/operator/memberz", headers={"Accept-Language": "fr"})
        assert missing.status_code == 404 and missing.headers["x-road-error"] == "not_found"
        assert missing.headers["content-type"].startswith("text/html"), missing.text
        assert 'lang="fr"' in missing.text and 'id="error"' in missing.text
        # The statistics' page is a page of the portal too; its open data stays JSON.
        odd = await client.get("/statistics/?lang=%00", headers={"Accept-Language": "nl"})
        assert odd.status_code == 400 and odd.headers["content-type"].startswith("text/html")
        assert 'lang="nl"' in odd.text and "malformed_request" in odd.text
        files = await client.get("/statistics/open-data/nothing.csv")
        assert files.status_code == 404 and files.json()["code"] == "not_found"
        # The operator's session API stays JSON.
        session = await client.get("/operator/session")
        assert session.status_code == 401 and session.json()["code"] == "unauthenticated"


async def test_the_citizens_data_asked_without_a_session_says_so_and_offers_the_sign_in(
    portal_demo,
):
    async with browser(portal_demo) as client:
        refused = await client.get("/citizen/data?lang=de")
    assert refused.status_code == 401 and refused.headers["x-road-error"] == "unauthenticated"
    assert "Sie sind nicht angemeldet." in refused.text
    assert "Die Anmeldung ist nicht gelungen." not in refused.text
    assert 'id="sign-in" href="/citizen/login"' in refused.text
