"""Who is signed in on the portal's pages: the professional the `crossroads_portal` session holds
(portal_signin.py opens it), for the header of every page and for the pages of one audience.
"""

from __future__ import annotations

from fastapi import Request

from ...domain.errors import Refusal
from ...domain.professionals import Professional

SESSION_KEY = "professional"


def signed_in(request: Request) -> Professional | None:
    """The professional signed in on this browser, or None (also on pages without a session)."""
    if "session" not in request.scope:
        return None
    return Professional.from_session(request.session.get(SESSION_KEY))


def professional(request: Request, *kinds: str) -> Professional:
    """The signed-in professional, if of one of `kinds` (any, when none is named); else
    `unauthenticated` or `forbidden`: a page never shows what the organisation may not see."""
    found = signed_in(request)
    if found is None:
        raise Refusal("unauthenticated", "sign in first: /portal/signin.")
    if kinds and found.kind not in kinds:
        raise Refusal("forbidden", "this page is not for the organisation you act for.")
    return found
