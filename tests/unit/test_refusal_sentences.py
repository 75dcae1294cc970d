"""Every refusal the portal can show is told in the reader's language: each code of the error
catalogue has a sentence (templates/refusals.py), translated in every catalogue; and each
language names the hub's operator with one word throughout."""

from __future__ import annotations

import pytest
from babel.messages.pofile import read_po

from crossroads.domain.errors import CATALOGUE
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
        if isinstance(m.id, str) and "operator" in m.id.lower()
        and OPERATOR[locale] not in m.string.lower()
    ]
    assert stray == [], stray
