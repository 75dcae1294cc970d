"""The portal's front door: its home page and its style sheet.

Every page is rendered on the server and works without JavaScript (entrypoints/api/pages.py
gives each its language and navigation); docs/portal.md lists the addresses.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from .dependencies import CitizenSignInDep, OperatorSignInDep, PortalSignInDep
from .hub_router import HubRouter
from .json_input import JSONRoute
from .pages import page

router = HubRouter(route_class=JSONRoute, include_in_schema=False)
STATIC = Path(str(resources.files("crossroads"))) / "static"
# Read once: the style sheet is part of the installed package and never changes while it runs.
STYLE_SHEET = (STATIC / "portal.css").read_bytes()


@router.get("/portal")
async def portal_root() -> RedirectResponse:
    return RedirectResponse("/portal/", status_code=307)


@router.get("/portal/")
async def home(
    request: Request,
    citizen_signin: CitizenSignInDep,
    portal_signin: PortalSignInDep,
    operator_signin: OperatorSignInDep,
):
    """The front door: the information model for everyone, and each audience's own pages (those
    whose sign-in this hub has configured)."""
    return page(
        request,
        "portal/home.html",
        citizen=citizen_signin is not None,
        professionals=portal_signin is not None,
        operator=operator_signin is not None,
    )


@router.get("/portal/static/portal.css")
async def style_sheet() -> Response:
    return Response(
        STYLE_SHEET,
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
