"""Browser sessions: the citizen's pages, the operators' sign-in and admin API, and the portal's
pages for people acting for an enterprise or an institution.

Starlette's SessionMiddleware (a signed cookie, itsdangerous) wraps just the paths that need a
session, so that the exchange's hot path never parses a cookie. The citizen's cookie holds the
citizen's keyed hash, never the identifier; the operator's, the operator's id and a CSRF token;
the portal's, who acts for which enterprise or institution, with which role, and a CSRF token;
each, the OIDC state while a sign-in is under way. The cookies are apart: signing in as one
never signs in as another.

A signed-in cookie also carries the session's random id (`sid`), recorded in the store at sign-in
(services/session_records.py) and deleted at sign-out. Between the cookie's decoding and the
routes, a session that names someone is looked up by that id (one primary-key read): one that
is not recorded, has reached its absolute end, or was opened for another audience or person is
emptied, so the request is served as signed out and the answer clears the cookie. A copy of the
cookie taken before signing out is thus refused after it, by every hub process.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.middleware.sessions import SessionMiddleware

from ...domain.errors import Refusal
from ...services.session_records import SessionRecords
from .errors import refusal_response
from .portal_visitor import SESSION_KEY as PORTAL_IDENTITY

SESSION_PATHS = ("/citizen", "/v1/citizen", "/govstack/")
COOKIE = "crossroads_citizen"
OPERATOR_PATHS = ("/operator/", "/admin/", "/v1/audit/entries/")
OPERATOR_COOKIE = "crossroads_operator"
# Every portal page: the header names whoever is signed in there, and offers to sign out.
PORTAL_PATHS = ("/portal/",)
# Files the same for everyone, which shared caches may keep: never a session's cookie with them.
SESSIONLESS_PATHS = ("/portal/static/",)
PORTAL_COOKIE = "crossroads_portal"

SESSION_ID = "sid"
# Each audience's session names whom it was opened for under this key.
IDENTITY_KEYS = {"citizen": "citizen", "operator": "operator", "portal": PORTAL_IDENTITY}
_AUDIENCE = "crossroads.session_audience"  # the scope's key: which session this request has


def person_of(audience: str, identity: Any) -> str:
    """Who a session's identity is, as services/person_sessions.py names them to end their
    sessions: the citizen's keyed hash and the operator's id are the identity itself; a portal
    session's identity also holds the organisation and role it acts in, its person is the keyed
    hash of the subject who signed in."""
    return identity["person"] if audience == "portal" else identity


async def recorded(records: SessionRecords, audience: str, fields: dict[str, Any]) -> dict:
    """`fields` (whom the session is for under the audience's identity key, and the rest it
    holds) with the id of a new session recorded for them: what a signed-in cookie holds."""
    identity = fields[IDENTITY_KEYS[audience]]
    session_id = await records.open(audience, identity, person_of(audience, identity))
    return {**fields, SESSION_ID: session_id}


async def sign_in(request: Request, **fields: Any) -> None:
    """Open a new session holding `fields`: an earlier one in this browser is signed out, and
    nothing of it (or of a session an attacker planted) stays."""
    records: SessionRecords = request.app.state.hub.sessions
    await records.end(request.session.get(SESSION_ID))
    request.session.clear()
    request.session.update(await recorded(records, request.scope[_AUDIENCE], fields))


async def sign_out(request: Request) -> None:
    """End the session, in the store (every copy of the cookie with it) and in this browser."""
    await request.app.state.hub.sessions.end(request.session.get(SESSION_ID))
    request.session.clear()


class BrowserSessions:
    def __init__(
        self,
        app: Any,
        max_age: int,
        https_only: bool,
        paths: tuple[str, ...] = SESSION_PATHS,
        cookie: str = COOKIE,
        audience: str = "citizen",
    ) -> None:
        self.app = app
        self._max_age = max_age
        self._https_only = https_only
        self._paths = paths
        self._cookie = cookie
        self._audience = audience
        self._identity_key = IDENTITY_KEYS[audience]
        self._with_session: SessionMiddleware | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].startswith(self._paths)
            and not scope["path"].startswith(SESSIONLESS_PATHS)
        ):
            if self._with_session is None:
                # The key is the running hub's (its secrets are loaded at start-up, not when the
                # app object is made: building the app for its OpenAPI document writes nothing).
                self._with_session = SessionMiddleware(
                    self._signed_in,
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

    async def _signed_in(self, scope: dict, receive: Any, send: Any) -> None:
        """Between the cookie and the routes: a session that names someone (or carries a session
        id) stands only while the store holds it; else it is emptied, and its cookie cleared."""
        scope[_AUDIENCE] = self._audience
        session = scope["session"]
        if self._identity_key in session or SESSION_ID in session:
            records: SessionRecords = scope["app"].state.hub.sessions
            try:
                held = await records.holds(
                    session.get(SESSION_ID), self._audience, session.get(self._identity_key)
                )
            except Refusal as refusal:  # the store is out: `not_ready`, as any page would say
                answer = await refusal_response(Request(scope, receive), refusal)
                await answer(scope, receive, send)
                return
            if not held:
                session.clear()
        await self.app(scope, receive, send)
