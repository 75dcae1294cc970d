"""The portal's languages: gettext catalogues (Babel) and dates and numbers in each locale.

The catalogues are the .po files under crossroads/locale/<lang>/LC_MESSAGES/, the only form
kept in the source tree and the wheel: each is compiled in memory when first asked for (a few
milliseconds), so that no build step can leave a stale .mo behind. A fuzzy entry is not used.
English is the source language and has a catalogue of its own, so that the English wording can
be edited without changing the message ids.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from importlib import resources
from io import BytesIO
from pathlib import Path

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LOCALES = ("en", "nl", "fr", "de")
# Each language by its own name, as a language switch shows it.
NAMES = {"en": "English", "nl": "Nederlands", "fr": "Français", "de": "Deutsch"}
LOCALE_DIR = Path(str(resources.files("crossroads"))) / "locale"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Marks a string in Python code for extraction; the template translates it when shown."""
    return message


def catalogue_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> Translations:
    """The compiled catalogue of one of LOCALES (a KeyError for any other)."""
    if locale not in LOCALES:
        raise KeyError(locale)
    with catalogue_path(locale).open("rb") as po:
        catalogue = read_po(po, locale=locale, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalogue, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def day(value: date | str | None, locale: str) -> str:
    """A day as people of the locale write it in full ("2 décembre 2026"); '' for none."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return format_date(value, format="long", locale=locale)


@lru_cache(maxsize=8192)
def moment(at_ms: int | None, locale: str) -> str:
    """A time in the log (milliseconds since the epoch), in UTC, in the locale's medium form.
    Kept once written, as `number` is: a citizen's list writes the same entries' times on every
    view, and Babel's formatting was an eighth of that page's CPU."""
    if at_ms is None:
        return ""
    at = datetime.fromtimestamp(at_ms / 1000, UTC)
    return format_datetime(at, format="medium", tzinfo=UTC, locale=locale)


@lru_cache(maxsize=8192)
def number(value: int | float, locale: str) -> str:
    """A number with the locale's grouping and decimal signs (1.234,5 in Dutch). Kept once
    written: Babel parses the locale and its pattern on every call, which made the numbers the
    dearest part of a page with charts (the same counts recur on every view)."""
    return format_decimal(value, locale=locale)
