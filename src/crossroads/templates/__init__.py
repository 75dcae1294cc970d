"""The hub's HTML pages (the portal, the citizen's view, the demo's identity provider), with
Jinja2 and one environment per language of the portal.

Autoescaping is on for every template: names and purposes come from the registry and the log.
Each environment has its language's gettext catalogue installed (`_()` in a template, new-style:
`_("%(n)s entries", n=size)` formats and escapes), the filters `day`, `moment` and `number`
that write dates, times and numbers as that language does, and `refusal`, which tells what a
refusal code means in that language (refusals.py), and `shown` and `worded`, which pick a
registry text's wording in that language (domain/wording.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache, partial
from typing import Any

from babel.support import Translations
from jinja2 import Environment, PackageLoader, pass_eval_context, select_autoescape
from jinja2.nodes import EvalContext
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from ..domain.wording import in_language
from .i18n import LOCALES, day, moment, number, translations
from .refusals import sentence

# Pages never load anything from elsewhere, and never run in a frame.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
        " frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


# What `row.name` finds on a plain dict as an attribute rather than as a key (its methods).
_DICT_ATTRIBUTES = frozenset(dir(dict))


class PageEnvironment(Environment):
    """Jinja's environment, with `row.name` on a plain dict read as the key at once.

    Jinja first asks the object for an attribute and, on the AttributeError, for the key: the
    pages' rows are dicts, so every `row.name` raised and caught an exception, which made
    `Environment.getattr` the largest single cost of the citizen's list (9 % of its CPU under
    `crossroads bench portal`). A plain dict's attributes are exactly dict's own, so reading the
    key first for any other name answers what Jinja's order answers, the undefined included."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


@lru_cache(maxsize=len(LOCALES))
def environment(locale: str) -> Environment:
    """The templates with `locale`'s catalogue and formats (one of LOCALES)."""
    env = PageEnvironment(
        loader=PackageLoader("crossroads", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
        # The templates are part of the installed package and never change while it runs: not
        # checking each one's file on every page saved a dozen stat calls a page with charts.
        auto_reload=False,
    )
    catalogue = translations(locale)
    env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
    env.globals["_"] = env.globals["gettext"] = translator(catalogue)
    env.filters["day"] = partial(day, locale=locale)
    env.filters["moment"] = partial(moment, locale=locale)
    env.filters["number"] = partial(number, locale=locale)
    env.filters["refusal"] = lambda code: catalogue.gettext(sentence(code))
    env.filters["shown"] = partial(shown, locale=locale)
    env.filters["worded"] = partial(worded, locale=locale)
    env.globals["locale"] = locale
    return env


def shown(default: str, wording: Mapping[str, str] | None, locale: str) -> Markup:
    """`{{ service.name | shown(service.name_translations) }}`: a registry text in the page's
    language (domain/wording.py); the default text, where it stands in for a missing
    translation, marked as English so that a screen reader reads it as such (WCAG 3.1.2)."""
    text, language = in_language(default, wording or {}, locale)
    if language == locale:
        return escape(text)
    return Markup('<span lang="{}">{}</span>').format(language, text)


def worded(default: str, wording: Mapping[str, str] | None, locale: str) -> str:
    """The text `shown` shows, without markup: for attributes (aria-label) and titles."""
    return in_language(default, wording or {}, locale)[0]


def translator(catalogue: Translations) -> Callable[..., str]:
    """`_()` in the templates: Jinja's new-style gettext (escaped, always `%`-formatted), called
    once rather than through its alias's two `Context.call`s, and kept once written when it has
    no variables (a message's translation never changes while the hub runs). Jinja's own took a
    tenth of the citizen's list's CPU; most of a page's messages are the same on every view."""

    @lru_cache(maxsize=4096)
    def plain(message: str, autoescape: bool) -> str:
        text = catalogue.gettext(message)
        return (Markup(text) if autoescape else text) % {}

    @pass_eval_context
    def gettext(eval_ctx: EvalContext, message: str, /, **variables: Any) -> str:
        if not variables:
            return plain(message, eval_ctx.autoescape)
        text = catalogue.gettext(message)
        return (Markup(text) if eval_ctx.autoescape else text) % variables

    return gettext


def render(name: str, status: int = 200, locale: str = "en", **context) -> HTMLResponse:
    return HTMLResponse(
        environment(locale).get_template(name).render(**context),
        status_code=status,
        headers=_HEADERS,
    )
