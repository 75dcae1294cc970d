"""The registry's own texts in the reader's language (domain/wording.py): services, capacities,
mutation types and legal bases carry their text in Dutch, French and German beside the default
English, the admin API takes and gives them back, and the public information model shows them,
the default text standing in (marked lang="en") where a language has none."""

from __future__ import annotations

import html

import pytest

pytestmark = pytest.mark.anyio

ADMIN = {"Authorization": "Bearer operator-secret-for-tests"}


async def page(demo, path: str, language: str) -> str:
    answer = await demo.http.get(path, params={"lang": language})
    assert answer.status_code == 200, answer.text[:300]
    return html.unescape(answer.text)


@pytest.mark.parametrize(
    ("language", "name", "description", "capacity"),
    [
        (
            "nl",
            "In DIMONA aangegeven tewerkstellingsperiodes",
            "Uit het Rijksregister.",
            "Aangesloten bij een ziekenfonds",
        ),
        (
            "fr",
            "Périodes d'occupation déclarées dans la DIMONA",
            "Du Registre national.",
            "Affilié à une mutualité",
        ),
        (
            "de",
            "In der DIMONA gemeldete Beschäftigungszeiträume",
            "Aus dem Nationalregister.",
            "Einer Krankenkasse angeschlossen",
        ),
    ],
)
async def test_the_services_read_in_the_readers_language(
    demo, language, name, description, capacity
):
    text = await page(demo, "/portal/services", language)
    assert name in text and description in text and capacity in text
    assert "Employment periods declared in DIMONA" not in text
    assert "From the national register." not in text


@pytest.mark.parametrize(
    ("language", "name", "basis"),
    [
        (
            "nl",
            "Wijziging van hoofdverblijfplaats",
            "Wet van 26 mei 2002 betreffende het recht op maatschappelijke integratie, art. 19",
        ),
        (
            "fr",
            "Changement de résidence principale",
            "Loi du 26 mai 2002 concernant le droit à l'intégration sociale, art. 19",
        ),
        (
            "de",
            "Änderung des Hauptwohnortes",
            "Gesetz vom 26. Mai 2002 über das Recht auf soziale Eingliederung, Art. 19",
        ),
    ],
)
async def test_mutation_types_and_legal_bases_read_in_the_readers_language(
    demo, language, name, basis
):
    changes = await page(demo, "/portal/mutations", language)
    assert name in changes and "Change of main residence" not in changes
    authorizations = await page(demo, "/portal/authorizations", language)
    assert basis in authorizations and name in authorizations  # a group named by its change
    assert "Law of 26 May 2002" not in authorizations


async def test_english_readers_keep_the_default_text(demo):
    text = await page(demo, "/portal/services", "en")
    assert "Employment periods declared in DIMONA" in text
    assert "Rijksregister" not in text and 'lang="en"' in text  # the page's own, not a span's
    assert '<span lang="en">' not in text


async def test_an_untranslated_text_falls_back_to_the_default_marked_as_english(demo):
    answer = await demo.http.put(
        "/admin/capacities/UNTRANSLATED",
        headers=ADMIN,
        json={"name": "Only in English", "name_translations": {"fr": "Seulement en français"}},
    )
    assert answer.status_code == 201, answer.text
    service = {
        "name": "A service named in English only",
        "description": "Described in English only.",
        "routed_capacity": "UNTRANSLATED",
        "response_fields": ["x"],
    }
    answer = await demo.http.put("/admin/services/untranslated/1", headers=ADMIN, json=service)
    assert answer.status_code == 201, answer.text
    dutch = await page(demo, "/portal/services", "nl")
    assert '<span lang="en">A service named in English only</span>' in dutch
    assert '<span lang="en">Described in English only.</span>' in dutch
    assert '<span lang="en">Only in English</span>' in dutch
    french = await page(demo, "/portal/services", "fr")
    assert "Seulement en français" in french and "Only in English" not in french


async def test_the_admin_api_takes_and_gives_back_every_kind_of_wording(demo):
    names = {"nl": "Naam", "fr": "Nom", "de": "Name"}
    texts = {"nl": "Tekst", "fr": "Texte", "de": "Text"}
    puts = [
        ("/admin/capacities/WORDED", {"name": "Worded", "name_translations": names}),
        (
            "/admin/services/worded/1",
            {
                "name": "Worded",
                "description": "Text",
                "name_translations": names,
                "description_translations": texts,
                "routed_capacity": "WORDED",
                "response_fields": ["x"],
            },
        ),
        (
            "/admin/mutation-types/worded.change/1",
            {
                "name": "Worded",
                "description": "Text",
                "name_translations": names,
                "description_translations": texts,
                "publisher": (await demo.http.get("/admin/institutions", headers=ADMIN)).json()[0][
                    "enterprise_number"
                ],
                "fields": ["x"],
            },
        ),
    ]
    for path, body in puts:
        answer = await demo.http.put(path, headers=ADMIN, json=body)
        assert answer.status_code == 201, (path, answer.text)
        for given in (answer.json(), (await demo.http.get(path, headers=ADMIN)).json()):
            for key in ("name_translations", "description_translations"):
                if key in body:
                    assert given[key] == body[key], (path, key)
    existing = (await demo.http.get("/admin/authorizations", headers=ADMIN)).json()[0]
    bases = {"nl": "Wet", "fr": "Loi", "de": "Gesetz"}
    reference = existing.pop("reference")
    existing["legal_basis_translations"] = bases
    answer = await demo.http.put(f"/admin/authorizations/{reference}", headers=ADMIN, json=existing)
    assert answer.status_code == 200, answer.text
    again = (await demo.http.get(f"/admin/authorizations/{reference}", headers=ADMIN)).json()
    assert again["legal_basis_translations"] == bases


@pytest.mark.parametrize(
    "translations",
    [
        {"es": "Nombre"},  # not a language of the portal
        {"nl": ""},  # blank
        {"nl": "x" * 201},  # longer than a name may be
        {"nl": 3},  # not a text
        ["nl", "Naam"],  # not a map
    ],
)
async def test_a_wording_outside_the_rules_is_refused_with_a_stable_code(demo, translations):
    answer = await demo.http.put(
        "/admin/capacities/REFUSED",
        headers=ADMIN,
        json={"name": "Refused", "name_translations": translations},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "malformed_request"
    assert answer.json()["field"].startswith("name_translations")
    assert (await demo.http.get("/admin/capacities/REFUSED", headers=ADMIN)).status_code == 404


async def test_the_catalogue_is_in_the_order_the_reader_reads_it(demo):
    """Sorted by the names as shown, an accented letter with its plain one: in English "Employment
    periods declared in DIMONA" comes before "Main residence of a person", in Dutch after it
    ("In DIMONA…", "Hoofdverblijfplaats…"); in German "Änderung des Hauptwohnortes" (change of
    main residence) comes before "Eine Sozialleistung beginnt oder endet", in English after it."""
    english = await page(demo, "/portal/services", "en")
    assert english.index("Employment periods declared") < english.index("Main residence of")
    dutch = await page(demo, "/portal/services", "nl")
    assert dutch.index("Hoofdverblijfplaats van een persoon") < dutch.index("In DIMONA aangegeven")
    changes = await page(demo, "/portal/mutations", "en")
    assert changes.index("A social benefit starts") < changes.index("Change of main residence")
    german = await page(demo, "/portal/mutations", "de")
    assert german.index("Änderung des Hauptwohnortes") < german.index("Eine Sozialleistung beginnt")


async def test_an_integration_rights_legal_basis_goes_through_the_admin_api_on_each_store(demo_on):
    """Migration 0032: the legal basis in other languages taken, given back and kept, on SQLite
    and PostgreSQL; the demo's own rights carry their laws' titles in Dutch, French and German."""
    demo = demo_on
    rights = (await demo.http.get("/admin/integration-rights", headers=ADMIN)).json()
    seeded = next(r for r in rights if r["capacity"] == "SOCIAL_ASSISTANCE")
    assert seeded["legal_basis_translations"]["nl"] == (
        "Wet van 26 mei 2002 betreffende het recht op maatschappelijke integratie"
    )
    path = f"/admin/integration-rights/{seeded['institution']}/JOB_SEEKER"
    bases = {"nl": "Wet X", "fr": "Loi X", "de": "Gesetz X"}
    answer = await demo.http.put(
        path, headers=ADMIN, json={"legal_basis": "Law X", "legal_basis_translations": bases}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["legal_basis_translations"] == bases
    assert (await demo.http.get(path, headers=ADMIN)).json()["legal_basis_translations"] == bases
    again = await demo.http.put(path, headers=ADMIN, json={"legal_basis": "Law X"})
    assert again.status_code == 200 and again.json()["legal_basis_translations"] == {}


@pytest.mark.parametrize(
    "translations",
    [{"es": "Ley"}, {"nl": ""}, {"nl": "x" * 501}, {"nl": 3}, ["nl", "Wet"]],
)
async def test_an_integration_rights_wording_outside_the_rules_is_refused(demo, translations):
    """As every registry text: the portal's languages, non-blank texts, no longer than the default
    legal basis may be (500 characters)."""
    rights = (await demo.http.get("/admin/integration-rights", headers=ADMIN)).json()
    path = f"/admin/integration-rights/{rights[0]['institution']}/{rights[0]['capacity']}"
    answer = await demo.http.put(
        path, headers=ADMIN, json={"legal_basis": "Law", "legal_basis_translations": translations}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "malformed_request"
    assert answer.json()["field"].startswith("legal_basis_translations")
    kept = (await demo.http.get(path, headers=ADMIN)).json()
    assert kept["legal_basis"] == rights[0]["legal_basis"]
