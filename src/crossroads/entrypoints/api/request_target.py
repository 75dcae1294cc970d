"""Refuse a request whose path or query string holds a control character, before any route reads it.

No name the hub serves (a service code, an enterprise number, a subscription id, a cursor) holds
one, and PostgreSQL's text cannot hold U+0000: a `%00` in a path segment reached the store and came
back as a 500. One check here covers every path and query parameter, the mounted apps' and the
exchange's direct route included, rather than one per parameter.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request

from ...domain.errors import Refusal
from .xroad import refusal_before_routing

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class RequestTarget:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            where = _control_in(scope)
            if where is not None:
                refusal = Refusal(
                    "malformed_request",
                    f"the {where} holds a control character (U+0000 to U+001F, U+007F).",
                )
                response = await refusal_before_routing(Request(scope, receive), refusal)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _control_in(scope: dict) -> str | None:
    """ "path" or "query string" when that part, percent-decoded, holds a control character."""
    if _CONTROL.search(scope["path"]):
        return "path"
    query = scope.get("query_string", b"")
    if query and _CONTROL.search(unquote(query.decode("latin-1"))):
        return "query string"
    return None
