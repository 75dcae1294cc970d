"""The language asked for in an Accept-Language header (entrypoints/api/languages.py)."""

import pytest

from crossroads.entrypoints.api.languages import language_of


@pytest.mark.parametrize(("header", "expected"), [
    (None, "nl"),
    ("", "nl"),
    ("fr", "fr"),
    ("fr-BE, nl;q=0.8", "fr"),
    ("de, en;q=0.5, fr;q=0.9", "fr"),  # by weight, not by order
    ("en;q=0.5, fr;q=0.5", "en"),  # equal weights: the order decides
    ("fr;q=0, en", "en"),  # q=0 means "not this one"
    ("fr;q=abc, en", "en"),  # an unreadable weight counts as not acceptable
    ("*", "nl"),
    ("frisian, en", "en"),  # a tag is matched by its primary subtag, not by its first letters
])
def test_the_language_is_the_accepted_one_of_highest_weight(header, expected):
    assert language_of(header) == expected
