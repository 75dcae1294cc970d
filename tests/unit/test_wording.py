"""A registry text in the portal's languages (domain/wording.py): checked where the entry is
made, whatever made it (the admin API, a registry document, the demo), and chosen per reader."""

from __future__ import annotations

from datetime import date
from typing import get_args

import pytest
from markupsafe import Markup

from crossroads.demo.wordings import TEXTS
from crossroads.domain.errors import Refusal
from crossroads.domain.mutations import MutationType
from crossroads.domain.registry import Authorization, Capacity, Service
from crossroads.domain.wording import LANGUAGES, in_language
from crossroads.entrypoints.api.schemas import Language
from crossroads.templates import environment
from crossroads.templates.i18n import LOCALES


def test_the_wordings_languages_are_the_portals_and_the_apis():
    assert LANGUAGES == LOCALES
    assert get_args(Language) == LANGUAGES  # what the admin API's bodies accept


@pytest.mark.parametrize(
    "make",
    [
        lambda t: Capacity("C", "Name", name_translations=t),
        lambda t: Service("s", "1", "Name", ("x",), provider="1", name_translations=t),
        lambda t: Service("s", "1", "Name", ("x",), provider="1", description_translations=t),
        lambda t: MutationType("m", "1", "Name", "1", ("x",), name_translations=t),
        lambda t: MutationType("m", "1", "Name", "1", ("x",), description_translations=t),
        lambda t: Authorization(
            "R",
            "1",
            "s",
            "P",
            "Law",
            ("C",),
            ("x",),
            date(2024, 1, 1),
            legal_basis_translations=t,
        ),
    ],
)
@pytest.mark.parametrize(
    "translations", [{"es": "x"}, {"nl": " "}, {"nl": "x" * 2001}, {"nl": None}, "nl", None]
)
def test_an_entry_with_a_wording_outside_the_rules_is_refused(make, translations):
    with pytest.raises(Refusal) as refused:
        make(translations)
    assert refused.value.code == "malformed_request"
    assert refused.value.field.endswith("_translations")


def test_a_reader_gets_their_language_else_the_default_in_english():
    wording = {"nl": "Rijksregister", "fr": "Registre national"}
    assert in_language("National Register", wording, "nl") == ("Rijksregister", "nl")
    assert in_language("National Register", wording, "de") == ("National Register", "en")
    assert in_language("National Register", {}, "en") == ("National Register", "en")


def test_a_page_marks_the_default_standing_in_for_a_translation_as_english():
    shown = environment("de").filters["shown"]
    assert shown("A <b>", {"fr": "Un"}) == Markup('<span lang="en">A &lt;b&gt;</span>')
    assert shown("A", {"de": "Ein <b>"}) == Markup("Ein &lt;b&gt;")
    assert environment("en").filters["shown"]("A", {}) == Markup("A")
    assert environment("fr").filters["worded"]("A", {"fr": "Un"}) == "Un"


def test_the_demos_wordings_are_complete_and_within_the_bounds():
    for english, wording in TEXTS.items():
        assert set(wording) == {"nl", "fr", "de"}, english
        assert all(0 < len(text) <= 1000 for text in wording.values()), english
