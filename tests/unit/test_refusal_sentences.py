"""Every refusal the portal can show is told in the reader's language: each code of the error
catalogue has a sentence (templates/refusals.py), translated in every catalogue; and each
language names the hub's operator with one word throughout; the shipped statistics tables' texts
are the ones marked for translation; every anomaly the rules raise has its meaning in each
language (the English detail of what was found is shown beside it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import crossroads
from crossroads.adapters.be_reference import load_glossary
from crossroads.domain.declarations.social_risk import GLOSSARY as SOCIAL_RISKS
from crossroads.domain.errors import CATALOGUE
from crossroads.domain.statistics.published import DEFAULT_TABLES
from crossroads.entrypoints.api.statistics_public import SHIPPED
from crossroads.templates import environment
from crossroads.templates.i18n import LOCALES, catalogue_path
from crossroads.templates.refusals import REFUSED, SENTENCES


def catalogue(locale: str):
    with catalogue_path(locale).open("rb") as po:
        return read_po(po, locale=locale)


def test_every_code_of_the_catalogue_has_a_sentence_and_no_sentence_is_left_over():
    assert set(CATALOGUE) - set(SENTENCES) == set(), "codes without a sentence in refusals.py"
    assert set(SENTENCES) - set(CATALOGUE) == set(), "sentences of codes that no longer exist"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_sentence_is_translated(locale):
    held = {m.id: m.string for m in catalogue(locale) if m.id}
    missing = [s for s in [*SENTENCES.values(), REFUSED] if not held.get(s)]
    assert missing == [], (locale, missing)


def test_the_refusal_filter_says_a_code_in_the_pages_language():
    said = environment("de").from_string("{{ 'no_mandate'|refusal }} {{ 'source_own'|refusal }}")
    assert said.render() == (
        "Kein Mandat erlaubt Ihnen, für diesen Arbeitgeber zu erklären. "
        "Der Hub hat diese Anfrage abgelehnt."
    )


# The word each language uses for the hub's operator (a role apart from an institution's manager
# and the operators' admin role, which other words name).
OPERATOR = {"en": "operator", "nl": "operator", "fr": "opérateur", "de": "betreiber"}


@pytest.mark.parametrize("locale", LOCALES)
def test_each_language_names_the_operator_with_one_word(locale):
    stray = [
        (m.id, m.string)
        for m in catalogue(locale)
        if isinstance(m.id, str)
        and "operator" in m.id.lower()
        and OPERATOR[locale] not in m.string.lower()
    ]
    assert stray == [], stray


def test_the_shipped_statistics_tables_texts_are_the_ones_marked_for_translation():
    assert {t.name: (t.title, t.description) for t in DEFAULT_TABLES} == SHIPPED


# Every anomaly code the hub's rules raise, as the sources write it (`g.anomaly("00024-003", …)`).
RAISED = re.compile(r'"([0-9A-Z]{5}-[0-9]{3})"')
RULES = Path(crossroads.__file__).parent


def test_every_anomaly_the_hub_raises_has_its_meaning_in_every_language():
    glossaries = (
        load_glossary("Zones_Dimona20233NL.xml", "FBDimona20233NL.xml"),
        load_glossary("Zones_dmfa20233NL.xml", "FBDMFA20233NL.xml"),
        SOCIAL_RISKS,
    )
    sources = [
        *(RULES / "domain" / "declarations").glob("*.py"),
        *(RULES / "services").glob("*.py"),
    ]
    raised = {code for path in sources for code in RAISED.findall(path.read_text())}
    assert len(raised) > 30  # the scan finds the rules' codes
    missing = {}
    for code in sorted(raised):
        labels = next((g.entries[code][1] for g in glossaries if g.has(code)), {})
        lacking = [language for language in LOCALES if not labels.get(language)]
        if lacking:
            missing[code] = lacking
    assert missing == {}, missing
