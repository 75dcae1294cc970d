"""Signing in to the portal: one page that sends each audience to its sign-in, and the sign-in of
people acting for an enterprise or an institution (OpenID Connect, adapters/oidc.py).

`/portal/login` sends the browser to the identity provider; `/portal/callback` opens the session
(the `crossroads_portal` cookie: who acts for which organisation in which role, as the ID token's
claims vouch, and the CSRF token every form carries); `POST /portal/logout` ends it. Citizens sign
in at `/citizen/login` and operators at `/operator/login`, each with a cookie of their own.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse

from ...adapters.oidc import OidcSignIn
from ...domain.errors import Refusal
from ...domain.professionals import ClaimNames, professional_from_claims
from .csrf import checked_form, csrf_token
from .dependencies import (
    CitizenSignInDep,
    DevelopmentSignInDep,
    HasherDep,
    OperatorSignInDep,
    PortalSignInDep,
    SchemeDep,
    SettingsDep,
)
from .hub_router import HubRouter
from .json_input import JSONRoute
from .pages import page, visitor_home
from .portal_visitor import SESSION_KEY
from .sessions import sign_in, sign_out

router = HubRouter(route_class=JSONRoute, prefix="/portal", include_in_schema=False)


def _configured(signin: OidcSignIn | None) -> OidcSignIn:
    if signin is None:
        raise Refusal(
            "not_found",
            "sign-in for employers and institutions is not configured on this hub "
            "(see CROSSROADS_PORTAL_OIDC_ISSUER).",
        )
    return signin


@router.get("/signin")
async def choose(
    request: Request,
    citizen: CitizenSignInDep,
    operator: OperatorSignInDep,
    portal: PortalSignInDep,
    development: DevelopmentSignInDep,
):
    """Who are you: each audience's way in (those this hub has configured)."""
    return page(
        request,
        "portal/signin.html",
        citizen=citizen is not None,
        operator=operator is not None,
        professionals=portal is not None,
        dev_idp=development,
    )


@router.get("/login")
async def login(request: Request, signin: PortalSignInDep, settings: SettingsDep):
    return await _configured(signin).redirect(request, f"{settings.issuer}/portal/callback")


@router.get("/callback")
async def callback(
    request: Request,
    signin: PortalSignInDep,
    settings: SettingsDep,
    scheme: SchemeDep,
    hasher: HasherDep,
) -> RedirectResponse:
    claims, subject = await _configured(signin).claims(request)
    found = professional_from_claims(
        claims,
        ClaimNames(
            settings.portal_enterprise_claim,
            settings.portal_institution_claim,
            settings.portal_role_claim,
        ),
        scheme.normalise_enterprise,
        hasher.hex(subject),
    )
    # A new session: nothing of an earlier one (or an attacker's) stays.
    await sign_in(request, **{SESSION_KEY: found.as_session()})
    csrf_token(request)
    return RedirectResponse(visitor_home(found.kind), status_code=303)


@router.post("/logout")
async def logout(request: Request, settings: SettingsDep) -> RedirectResponse:
    """Sign out: the header's form, with the session's CSRF token (a GET answers 405)."""
    await checked_form(request, settings.issuer)
    await sign_out(request)
    return RedirectResponse("/portal/", status_code=303)
