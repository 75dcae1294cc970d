"""Operators sign in through OpenID Connect (authorization code with PKCE, adapters/oidc.py):
`/operator/login` sends the browser to the identity provider, `/operator/callback` opens the
session (the `crossroads_operator` cookie: the operator's id and a CSRF token), and
`GET /operator/session` says who is signed in, with which roles, and the CSRF token that every
change sent with the cookie must carry in `X-CSRF-Token` (security.py).
"""

from __future__ import annotations

import secrets

from fastapi import Request
from fastapi.responses import RedirectResponse

from ...adapters.oidc import OidcSignIn
from ...domain.errors import Refusal
from .answer_models import OperatorSession
from .dependencies import OperatorAdminDep, OperatorSignInDep, SettingsDep
from .errors import openapi_errors
from .hub_router import HubRouter
from .json_input import JSONRoute
from .openapi_models import answers
from .security import operator_caller
from .sessions import sign_in, sign_out

router = HubRouter(route_class=JSONRoute, prefix="/operator", tags=["admin"])
ERRORS = openapi_errors("unauthenticated", "forbidden", "csrf_failed", "not_found")


def _configured(signin: OidcSignIn | None) -> OidcSignIn:
    if signin is None:
        raise Refusal(
            "not_found",
            "operators' sign-in is not configured on this hub "
            "(see CROSSROADS_OPERATOR_OIDC_ISSUER).",
        )
    return signin


@router.get("/login", include_in_schema=False)
async def login(request: Request, signin: OperatorSignInDep, settings: SettingsDep):
    return await _configured(signin).redirect(request, f"{settings.issuer}/operator/callback")


@router.get("/callback", include_in_schema=False)
async def callback(
    request: Request, signin: OperatorSignInDep, operators: OperatorAdminDep
) -> RedirectResponse:
    subject = await _configured(signin).identify(request)
    # A new session: nothing of an earlier one (or an attacker's) stays.
    await sign_in(request, operator=operators.person_id(subject), csrf=secrets.token_urlsafe(32))
    return RedirectResponse("/operator/", status_code=303)  # the operator's pages


@router.get(
    "/session",
    responses=answers(OperatorSession, ERRORS),
    summary="The signed-in operator, their roles, and the CSRF token for changes",
)
async def session(request: Request) -> dict:
    if "authorization" in request.headers or not isinstance(request.session.get("operator"), str):
        raise Refusal("unauthenticated", "sign in as an operator first: /operator/login.")
    caller = await operator_caller(request)
    assert caller.actor is not None
    return {
        "operator": caller.actor.id,
        "roles": sorted(r.value for r in caller.actor.roles),
        "csrf_token": request.session["csrf"],
    }


@router.post("/logout", responses=ERRORS, status_code=204, summary="Sign the operator out")
async def logout(request: Request) -> None:
    if isinstance(request.session.get("operator"), str):
        await operator_caller(request)  # checks the CSRF token: another site cannot sign one out
    await sign_out(request)
