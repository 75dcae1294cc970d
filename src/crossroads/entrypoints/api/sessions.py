"""Browser sessions, for the citizen's pages only.

Starlette's SessionMiddleware (a signed cookie, itsdangerous) wraps just the paths that need a
session, so that the exchange's hot path never parses a cookie. The cookie holds the citizen's
keyed hash, never the identifier, and the OIDC state while a sign-in is under way.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware.sessions import SessionMiddleware

SESSION_PATHS = ("/citizen", "/v1/citizen", "/govstack/")
COOKIE = "crossroads_citizen"


class CitizenSessions:
    def __init__(self, app: Any, max_age: int, https_only: bool) -> None:
        self.app = app
        self._max_age = max_age
        self._https_only = https_only
        self._with_session: SessionMiddleware | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(SESSION_PATHS):
            if self._with_session is None:
                # The key is the running hub's (its secrets are loaded at start-up, not when the
                # app object is made: building the app for its OpenAPI document writes nothing).
                self._with_session = SessionMiddleware(
                    self.app,
                    secret_key=scope["app"].state.hub.session_secret,
                    session_cookie=COOKIE,
                    max_age=self._max_age,
                    path="/",
                    same_site="lax",
                    https_only=self._https_only,
                )
            await self._with_session(scope, receive, send)
        else:
            await self.app(scope, receive, send)
