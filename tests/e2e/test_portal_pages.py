"""The portal's public pages: the harmonised information model generated from the registry and
the official glossaries, in the language asked, without signing in."""

from __future__ import annotations

import pytest

from crossroads.demo import country

pytestmark = pytest.mark.anyio

PAGES = (
    "/portal/",
    "/portal/services",
    "/portal/authorizations",
    "/portal/mutations",
    "/portal/declarations",
    "/portal/declarations/dimona",
    "/portal/declarations/dmfa",
    "/portal/declarations/dimona/zones/00024",
)


async def get(demo, path: str, language: str = "en", **headers):
    return await demo.http.get(path, headers={"Accept-Language": language, **headers})


@pytest.mark.parametrize("language", ["en", "nl", "fr", "de"])
async def test_every_public_page_answers_in_the_language_asked(demo, language):
    for path in PAGES:
        answer = await get(demo, path, language)
        assert answer.status_code == 200, (path, answer.text[:300])
        assert answer.headers["content-language"] == language
        assert f'<html lang="{language}">' in answer.text
        assert 'href="/portal/static/portal.css"' in answer.text
        assert (
            '<a class="skip-link" href="#main">' in answer.text and '<main id="main"' in answer.text
        )
        assert "script" not in answer.headers["content-security-policy"].replace("default-src", "")


async def test_the_catalogue_of_services_comes_from_the_registry(demo):
    page = (await get(demo, "/portal/services")).text
    for service in country.services():
        assert service.name in page and f"<code>{service.code}</code>" in page
    assert "<code>birth_date</code></th>" in page and "<td>date</td>" in page.replace("\n", "")
    assert "<code>M</code>, <code>F</code>, <code>X</code>" in page  # gender: one of M, F, X
    assert "Affiliated with a health insurance fund" in page  # routed by the capacity's name
    dutch = (await get(demo, "/portal/services", "nl")).text
    assert "Authentieke bron" in dutch and country.BY_KEY["nr"].name in dutch


async def test_the_authorizations_name_the_institution_purpose_and_legal_basis(demo):
    page = (await get(demo, "/portal/authorizations", "fr")).text
    assert "ISC/25/401" in page and country.BY_KEY["welfare"].name in page
    assert "Droit à l'intégration sociale" in page.replace("&#39;", "'")
    assert (
        "Loi du 26 mai 2002 concernant le droit à l'intégration sociale, art. 19"
        in page.replace("&#39;", "'")
    )
    assert "à partir du 1 janvier 2024" in page or "à partir du 1er janvier 2024" in page


async def test_the_mutation_types_name_their_publisher_and_fields(demo):
    page = (await get(demo, "/portal/mutations", "de")).text
    assert "Änderung des Hauptwohnortes" in page and country.BY_KEY["nr"].name in page
    assert "Veröffentlicht von" in page and "<code>postcode</code>" in page


async def test_anomalies_are_explained_in_the_language_asked_else_in_the_glossarys_dutch(demo):
    zone = "/portal/declarations/dimona/zones/00024"
    texts = {lang: (await get(demo, zone, lang)).text for lang in ("nl", "fr", "en", "de")}
    assert 'id="00024-003"' in texts["en"]
    assert "Invalid" in texts["en"] and "Invalide" in texts["fr"] and "Ungültig" in texts["de"]
    assert "Ongeldig" in texts["nl"]
    form = (await get(demo, "/portal/declarations/dmfa", "nl")).text
    assert 'href="/portal/declarations/dmfa/zones/' in form and 'lang="nl"' in form


async def test_an_anomaly_code_is_looked_up_and_an_unknown_one_is_a_page(demo):
    found = await demo.http.get("/portal/anomaly", params={"code": "00024-003"})
    assert found.status_code == 303
    assert found.headers["location"] == "/portal/declarations/dimona/zones/00024#00024-003"
    # A language the address asked is kept on the way (a cookie set by a redirect is not enough
    # for a browser that refuses it, and the zone page would fall back to Accept-Language).
    asked = await get(demo, "/portal/anomaly?code=00024-003&lang=fr", "de")
    assert asked.headers["location"] == (
        "/portal/declarations/dimona/zones/00024?lang=fr#00024-003"
    )
    missing = await get(demo, "/portal/anomaly?code=99999-999", "nl")
    assert missing.status_code == 404 and missing.headers["x-road-error"] == "not_found"
    assert missing.headers["content-type"].startswith("text/html")
    assert "Op dit adres staat niets." in missing.text
    no_form = await get(demo, "/portal/declarations/nothing")
    assert no_form.status_code == 404 and 'id="error"' in no_form.text


async def test_the_language_switch_is_links_and_the_choice_is_kept(demo):
    page = (await get(demo, "/portal/services", "fr")).text
    assert 'href="/portal/services?lang=de" lang="de" hreflang="de"' in page
    assert 'lang="fr" hreflang="fr" aria-current="true">Français<' in page
    chosen = await get(demo, "/portal/services?lang=de", "fr")
    assert chosen.headers["content-language"] == "de"
    assert "crossroads_lang=de" in chosen.headers["set-cookie"]
    assert "samesite=lax" in chosen.headers["set-cookie"].lower()
    kept = await get(demo, "/portal/", "fr")  # the client keeps the cookie
    assert kept.headers["content-language"] == "de" and "Das Portal" in kept.text
    # The citizen's page keeps its other parameters when the language changes.
    older = (await get(demo, "/citizen/?before=5")).text
    assert 'href="/citizen/?before=5&amp;lang=nl"' in older
