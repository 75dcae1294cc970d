"""Browser sessions: the citizen's pages, the operators' sign-in and admin API, and the portal's
pages for people acting for an enterprise or an institution.

Starlette's SessionMiddleware (a signed cookie, itsdangerous) wraps just the paths that need a
session, so that the exchange's hot path never parses a cookie. The citizen's cookie holds the
citizen's keyed hash, never the identifier; the operator's, the operator's id and a CSRF token;
the portal's, who acts for which enterprise or institution, with which role, and a CSRF token;
each, the OIDC state while a sign-in is under way. The cookies are apart: signing in as one
never signs in as another.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware.sessions import SessionMiddleware

SESSION_PATHS = ("/citizen", "/v1/citizen", "/govstack/")
COOKIE = "crossroads_citizen"
OPERATOR_PATHS = ("/operator/", "/admin/", "/v1/audit/entries/")
OPERATOR_COOKIE = "crossroads_operator"
# Every portal page: the header names whoever is signed in there, and offers to sign out.
PORTAL_PATHS = ("/portal/",)
PORTAL_COOKIE = "crossroads_portal"


class BrowserSessions:
    def __init__(
        self,
        app: Any,
        max_age: int,
        https_only: bool,
        paths: tuple[str, ...] = SESSION_PATHS,
        cookie: str = COOKIE,
    ) -> None:
        self.app = app
        self._max_age = max_age
        self._https_only = https_only
        self._paths = paths
        self._cookie = cookie
        self._with_session: SessionMiddleware | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self._paths):
            if self._with_session is None:
                # The key is the running hub's (its secrets are loaded at start-up, not when the
                # app object is made: building the app for its OpenAPI document writes nothing).
                self._with_session = SessionMiddleware(
                    self.app,
                    secret_key=scope["app"].state.hub.session_secret,
                    session_cookie=self._cookie,
                    max_age=self._max_age,
                    path="/",
                    same_site="lax",
                    https_only=self._https_only,
                )
            await self._with_session(scope, receive, send)
        else:
            await self.app(scope, receive, send)
