"""The registry's display text in the portal's other languages.

A registry entry that people read (a service's name and description, a capacity's name, a
mutation type's name and description, an authorization's legal basis) carries its default text,
written in English, and may carry that text in other languages beside it: {"nl": "...",
"fr": "...", "de": "..."}. A reader is shown the text in their language, else the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import Refusal

# The portal's languages (templates/i18n.py LOCALES; a test keeps the two equal): the domain
# does not import the templates. English is the default text's language; an "en" entry replaces
# it for English readers only.
LANGUAGES = ("en", "nl", "fr", "de")
DEFAULT_LANGUAGE = "en"


def check_wording(value: Any, field_name: str, max_length: int) -> None:
    """Refuse (`malformed_request`, naming `field_name`) anything but a map from LANGUAGES to
    non-blank texts of at most `max_length` characters."""
    if not isinstance(value, Mapping):
        raise Refusal(
            "malformed_request",
            f"{field_name} maps language codes ({', '.join(LANGUAGES)}) to texts.",
            field_name,
        )
    for language, text in value.items():
        if language not in LANGUAGES:
            raise Refusal(
                "malformed_request",
                f"{field_name} has texts in {', '.join(LANGUAGES)} only,"
                f" not in {str(language)[:20]!r}.",
                field_name,
            )
        if not isinstance(text, str) or not text.strip() or len(text) > max_length:
            raise Refusal(
                "malformed_request",
                f"{field_name}.{language} is a text of 1 to {max_length} characters.",
                field_name,
            )


def in_language(default: str, wording: Mapping[str, str], language: str) -> tuple[str, str]:
    """The text for a reader of `language`, and the language it is in: the wording's own text
    for that language if it has one, else the default text (in DEFAULT_LANGUAGE)."""
    text = wording.get(language)
    if text:
        return text, language
    return default, DEFAULT_LANGUAGE
