"""The API documentation page (`/docs`, Swagger UI), served with every asset from the hub itself.

FastAPI's own page loads Swagger UI from a CDN, so it is blank on a closed network (and a
government network often is one), and it makes every reader's browser tell a third party that
they read it. The assets come from the `fastapi-offline` distribution, which ships Swagger UI's
built files as package data: installed and updated like any other dependency, nothing copied
into this repository by hand. Only the page's three files are served, not the whole folder.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"
_ASSETS = files("fastapi_offline") / "static"
_SERVED = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
           "favicon.png": "image/png"}
# Swagger UI would otherwise send the OpenAPI document's address to its public validator.
_PARAMETERS = {"validatorUrl": None}


def install(app: FastAPI) -> None:
    """Add `/docs` and its assets to an app made with `docs_url=None`."""

    # Plain routes, as FastAPI adds its own page: no body to read, nothing for the OpenAPI document.
    async def docs(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png", oauth2_redirect_url=None,
            swagger_ui_parameters=_PARAMETERS)

    app.add_route(DOCS_URL, docs, include_in_schema=False)
    for name, media_type in _SERVED.items():
        app.add_route(f"{ASSETS_URL}/{name}", _asset(name, media_type), include_in_schema=False)


def _asset(name: str, media_type: str):
    path = _ASSETS / name

    async def serve(request: Request) -> FileResponse:
        return FileResponse(str(path), media_type=media_type,
                            headers={"Cache-Control": "public, max-age=86400"})

    return serve
