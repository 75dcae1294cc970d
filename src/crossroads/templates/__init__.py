"""The hub's few HTML pages (the citizen's view, the demo's identity provider), with Jinja2.

Autoescaping is on for every template: names and purposes come from the registry and the log.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

_ENV = Environment(
    loader=PackageLoader("crossroads", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

# Pages never load anything from elsewhere, and never run in a frame.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self';"
        " frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def render(name: str, status: int = 200, **context) -> HTMLResponse:
    return HTMLResponse(
        _ENV.get_template(name).render(**context), status_code=status, headers=_HEADERS
    )
