"""What every page of the portal shares: its language, the language switch, the navigation.

The language is, in this order: `?lang=` on the address (the switch's links; the choice is then
kept in a cookie), the cookie, the browser's Accept-Language, Dutch. The switch is plain links,
so it works without JavaScript; choosing a language changes nothing but the language, so a GET
may set it (no form, nothing to forge).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import HTMLResponse
from starlette.routing import Match

from ...templates import render
from ...templates.i18n import LOCALES, N_, NAMES
from .csrf import csrf_token
from .languages import language_of
from .portal_visitor import signed_in

LANGUAGE_COOKIE = "crossroads_lang"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600

# The portal's navigation: (address, label). Each audience adds its entry here.
NAVIGATION = (
    ("/portal/", N_("Home")),
    ("/portal/services", N_("Services")),
    ("/portal/authorizations", N_("Authorizations")),
    ("/portal/mutations", N_("Changes")),
    ("/portal/declarations", N_("Declarations")),
    ("/statistics/", N_("Statistics")),
    ("/portal/rights", N_("Rights")),
    ("/citizen/", N_("My data")),
    ("/operator/", N_("Operator")),
    ("/portal/signin", N_("Sign in")),
)
SIGN_IN = "/portal/signin"

# The operator's pages (operator_pages.py), each under the operators' session: (address, label).
OPERATOR_PAGES = (
    ("/operator/", N_("Overview")),
    ("/operator/members", N_("Members")),
    ("/operator/applications", N_("Applications and keys")),
    ("/operator/services", N_("Services")),
    ("/operator/routed-providers", N_("Routed providers")),
    ("/operator/capacities", N_("Capacities")),
    ("/operator/authorizations", N_("Authorizations")),
    ("/operator/integration-rights", N_("Integration rights")),
    ("/operator/mutation-types", N_("Mutation types")),
    ("/operator/employers", N_("Employers")),
    ("/operator/mandates", N_("Mandates")),
    ("/operator/dead-letters", N_("Dead letters")),
    ("/operator/proposals", N_("Four eyes")),
    ("/operator/operators", N_("Operators")),
    ("/operator/audit", N_("Audit log")),
)


# How the header names the kind of organisation the signed-in person acts for, and where their
# pages are (employers and payroll offices share theirs).
VISITOR_KINDS = {
    "employer": N_("an employer's representative"),
    "payroll_office": N_("a payroll office's clerk"),
    "institution": N_("an institution's staff member"),
}
VISITOR_HOMES = {"institution": "/portal/institution/"}
DECLARANTS_HOME = "/portal/employer/"


def visitor_home(kind: str) -> str:
    return VISITOR_HOMES.get(kind, DECLARANTS_HOME)


def language(request: Request) -> tuple[str, bool]:
    """The page's language, and whether the address chose it (then it is to be remembered)."""
    asked = request.query_params.get("lang")
    if asked in LOCALES:
        return asked, True
    kept = request.cookies.get(LANGUAGE_COOKIE)
    if kept in LOCALES:
        return kept, False
    return language_of(request.headers.get("accept-language"), "nl", LOCALES), False


def form_page(request: Request, address: str) -> None:
    """Names the page that holds the form `request` answers, for the language switch of the
    answer (a form shown again with its errors, or a refusal) when it is not the form's own
    address nor that address without its last part."""
    request.state.form_page = address


def _page_of(request: Request) -> str:
    """The address the language switch reloads. A link is a GET: the answer to a form sent to an
    address that has no page of its own (`/operator/members/remove`, `/citizen/report`) switches
    to the page that holds the form, not to a "method not allowed"."""
    path = request.url.path
    if request.method in ("GET", "HEAD"):
        return path
    named = getattr(request.state, "form_page", None)
    if isinstance(named, str):
        return named
    if _has_page(request, path):
        return path
    parent = path.rstrip("/").rsplit("/", 1)[0]
    return f"{parent}/" if parent.count("/") <= 1 else parent


def _has_page(request: Request, path: str) -> bool:
    """Whether a GET of `path` reaches a route (the form's own address is its page too)."""
    scope = {**request.scope, "method": "GET", "path": path}
    return any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes)


def switch(request: Request, current: str) -> list[dict]:
    """The language switch: this same page (with its other parameters) in each language."""
    others = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    address = _page_of(request)
    return [
        {
            "code": code,
            "name": NAMES[code],
            "href": f"{address}?{urlencode([*others, ('lang', code)])}",
            "current": code == current,
        }
        for code in LOCALES
    ]


def signed_in_citizen(request: Request) -> bool:
    """Whether a citizen is signed in on this browser (the citizen's session exists on the
    citizen's pages only)."""
    return "session" in request.scope and isinstance(request.session.get("citizen"), str)


def _signed_in_anywhere(request: Request) -> bool:
    # The session of the page's own audience: whoever holds it is signed in, whichever cookie.
    if "session" not in request.scope:
        return False
    held = request.session
    return any(
        isinstance(held.get(k), (str, dict)) for k in ("citizen", "operator", "professional")
    )


def navigation(request: Request) -> list[dict]:
    """The portal's navigation; "Sign in" is left out for someone signed in on this page."""
    path = request.url.path
    signed = _signed_in_anywhere(request)
    return [
        {
            "href": href,
            "label": label,
            "current": path == href or (href != "/portal/" and path.startswith(href + "/")),
        }
        for href, label in NAVIGATION
        if not (signed and href == SIGN_IN)
    ]


def page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    """A portal page in the caller's language, with the switch, the navigation and, for whoever
    is signed in (a professional, or a citizen on the citizen's pages), the sign-out bar."""
    visitor = signed_in(request)
    citizen = signed_in_citizen(request)
    return localised(
        request,
        template,
        status,
        navigation=navigation(request),
        visitor=visitor,
        visitor_csrf=csrf_token(request) if visitor else None,
        visitor_kinds=VISITOR_KINDS,
        visitor_home=visitor_home(visitor.kind) if visitor else None,
        citizen_csrf=csrf_token(request) if citizen else None,
        **context,
    )


def localised(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    """A page in the caller's language, with the language switch (and the choice kept when the
    address made it), without the portal's navigation: the demo's identity provider's."""
    locale, chosen = language(request)
    response = render(template, status, locale=locale, switch=switch(request, locale), **context)
    response.headers["Content-Language"] = locale
    response.headers["Vary"] = "Accept-Language, Cookie"
    if chosen:
        response.set_cookie(
            LANGUAGE_COOKIE,
            locale,
            max_age=LANGUAGE_COOKIE_SECONDS,
            path="/",
            samesite="lax",
            httponly=True,
            secure=request.url.scheme == "https",
        )
    return response
