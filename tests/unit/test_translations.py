"""The portal's gettext catalogues: every message translated in every language, none fuzzy,
placeholders kept, and the catalogues up to date with the templates and the code (the messages
are extracted afresh, as `pybabel extract -F babel.cfg` does, and compared)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from crossroads.templates import environment
from crossroads.templates.i18n import LOCALES, catalogue_path, day, number, translations

ROOT = Path(__file__).resolve().parents[2]


def catalogue(locale: str):
    with catalogue_path(locale).open("rb") as po:
        return read_po(po, locale=locale)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The messages the code and the templates use, as a fresh extraction finds them."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    source = str(ROOT / "src" / "crossroads")
    config = str(ROOT / "babel.cfg")
    CommandLineInterface().run(
        ["pybabel", "--quiet", "extract", "-F", config, "-o", str(pot), "--no-location", source]
    )
    with pot.open("rb") as template:
        return {m.id for m in read_po(template) if m.id}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated_and_none_is_fuzzy(locale):
    found = catalogue(locale)
    assert not found.fuzzy, f"{locale}: the catalogue's header is marked fuzzy"
    untranslated = [m.id for m in found if m.id and not m.string]
    fuzzy = [m.id for m in found if m.id and m.fuzzy]
    assert untranslated == [] and fuzzy == [], (locale, untranslated, fuzzy)
    problems = [(m.id, [str(e) for e in errors]) for m, errors in found.check()]
    assert problems == [], problems  # e.g. a %(name)s placeholder lost in translation


@pytest.mark.parametrize("locale", LOCALES)
def test_the_catalogues_hold_exactly_the_messages_the_portal_uses(locale, extracted):
    held = {m.id for m in catalogue(locale) if m.id}
    assert extracted - held == set(), f"{locale}: not in the catalogue (run pybabel update)"
    assert held - extracted == set(), f"{locale}: no longer used (run pybabel update)"
    assert not catalogue(locale).obsolete


def test_the_templates_speak_the_language_asked():
    assert translations("nl").gettext("Sign out") == "Afmelden"
    assert translations("fr").gettext("Sign out") == "Se déconnecter"
    assert translations("de").gettext("Sign out") == "Abmelden"
    page = environment("fr").get_template("portal/home.html").render(citizen=True)
    assert '<html lang="fr">' in page and "Le modèle d'information harmonisé" in page


# The development identity provider's banner, in each language: it must say what the page is
# whatever the reader's language (an identity provider where anyone signs in as anyone).
DEVELOPMENT_ONLY = {
    "en": "DEVELOPMENT IDENTITY PROVIDER",
    "nl": "IDENTITEITSPROVIDER VOOR ONTWIKKELING",
    "fr": "FOURNISSEUR D'IDENTITÉ DE DÉVELOPPEMENT",
    "de": "IDENTITÄTSANBIETER FÜR DIE ENTWICKLUNG",
}


@pytest.mark.parametrize("locale", LOCALES)
def test_the_development_identity_provider_speaks_each_language_and_says_what_it_is(locale):
    page = (
        environment(locale)
        .get_template("dev_idp.html")
        .render(
            params={"client_id": "citizen"},
            personas=[
                {"key": "citizen-1", "label": "Citizen %(number)s", "label_values": {"number": "7"}}
            ],
            examples=["79122244457"],
            problem=None,
            missing=True,
        )
    )
    banner = re.search(r'<p class="banner" role="alert" id="development-only">(.*?)</p>', page)
    assert banner and DEVELOPMENT_ONLY[locale] in banner.group(1).replace("&#39;", "'"), page
    assert f'<html lang="{locale}">' in page
    english = {"Sign in as a test persona", "Citizen 7", "Persons of the demo country"}
    if locale != "en":  # nothing of the page left in English but the protocol's own words
        assert [text for text in english if text in page] == [], locale
        assert DEVELOPMENT_ONLY["en"] not in page
    assert translations(locale).gettext("Citizen %(number)s") % {"number": "7"} in page


def test_dates_and_numbers_are_written_as_each_language_writes_them():
    assert day(date(2026, 12, 2), "nl") == "2 december 2026"
    assert day(date(2026, 12, 2), "fr") == "2 décembre 2026"
    assert day(date(2026, 12, 2), "de") == "2. Dezember 2026"
    assert day("2026-12-02", "en") == "December 2, 2026"
    assert [number(12345.5, locale) for locale in ("en", "nl", "fr", "de")] == [
        "12,345.5",
        "12.345,5",
        "12\u202f345,5",
        "12.345,5",
    ]
