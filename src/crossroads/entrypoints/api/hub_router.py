"""HubRouter: the API's routers, each declining at once a path that none of its routes could
match, before FastAPI tries its routes one by one.

Why: the app includes some forty routers, and FastAPI (0.165) asks each in turn whether it
matches, trying every route of each with its regular expression and its bookkeeping in the scope;
a page near the end of the list (the portal's, the citizen's, the operator's) went through about
170 routes before its own. Profiled under `crossroads bench portal`, that matching was a quarter
of the employer's declaration list's CPU and a tenth of the citizen's page; timed alone, 0.7 to
0.9 ms a page on the shared machine. A route's path can only match a request's path that equals
it (no parameter) or starts with its text up to its first parameter; a router none of whose routes
passes that test answers `Match.NONE`, which is what trying them would have answered. Anything
else (a match, a partial match for another method, a mount) is left to FastAPI as before, in the
same order, so which route serves a request does not change.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.routing import Match, Route
from starlette.types import Scope


class HubRouter(APIRouter):
    """An APIRouter (routes of the class `route_class`, JSONRoute for the hub's) that declines a
    path none of its routes could match. Contract: included in the app without a prefix of the
    inclusion (`app.include_router(router)`, as app.py does), since the test reads the routes'
    own paths; a route that is not a plain path route (a mount, an included router) turns the
    test off for the whole router."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._index_size = -1
        self._exact: frozenset[str] = frozenset()
        self._prefixes: tuple[str, ...] = ()
        self._always = True

    def _reindex(self) -> None:
        exact: set[str] = set()
        prefixes: list[str] = []
        always = False
        for route in self.routes:
            if not isinstance(route, APIRoute | Route):
                always = True
                continue
            head, brace, _ = route.path.partition("{")
            if brace:
                prefixes.append(head)
            else:
                exact.add(route.path)
        self._exact, self._prefixes, self._always = frozenset(exact), tuple(prefixes), always
        # Routes are only ever added to a router (add_api_route): the count tells a change.
        self._index_size = len(self.routes)

    def could_match(self, path: str) -> bool:
        """Whether any route of this router could match `path` (the route path, without the
        app's root path), whatever the method."""
        if self._index_size != len(self.routes):
            self._reindex()
        return self._always or path in self._exact or path.startswith(self._prefixes)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] in ("http", "websocket") and not self.could_match(get_route_path(scope)):
            return Match.NONE, {}
        return super().matches(scope)
