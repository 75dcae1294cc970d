"""Who is calling: bearer tokens for applications, and the operator credential for the admin API.

The dependencies are `async def` although they never await: FastAPI runs a plain `def` dependency
in a thread pool, a hop that cost more than the check itself on every request.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from ...domain.errors import Refusal
from ...domain.callers import OPERATOR, Caller
from .dependencies import hub_of


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refusal("unauthenticated", "send an access token: Authorization: Bearer <token> (from /oauth/token).")
    return token.strip()


async def application(request: Request) -> Caller:
    """An application of a member institution, by its hub access token."""
    caller = await hub_of(request).tokens.authenticate(_bearer(request))
    named = request.headers.get("x-road-client")
    if named is not None and not _names(named, caller):
        raise Refusal("unauthenticated", f"X-Road-Client {named[:100]!r} is not the application this token was issued to.")
    request.state.caller = caller
    return caller


async def operator(request: Request) -> Caller:
    token = _bearer(request)
    if not _is_operator(request, token):
        if token.count(".") == 2:  # a valid application token is still not the operator's
            await hub_of(request).tokens.authenticate(token)
            raise Refusal("forbidden", "the admin API needs the operator credential.")
        raise Refusal("unauthenticated", "the operator credential is not valid.")
    request.state.caller = OPERATOR
    return OPERATOR


async def application_or_operator(request: Request) -> Caller:
    token = _bearer(request)
    if _is_operator(request, token):
        request.state.caller = OPERATOR
        return OPERATOR
    return await application(request)


def _is_operator(request: Request, token: str) -> bool:
    return hmac.compare_digest(token.encode(), hub_of(request).admin_token.encode())


def _names(header: str, caller: Caller) -> bool:
    """X-Road-Client: INSTANCE/CLASS/MEMBER/SUBSYSTEM, or our own MEMBER:APPLICATION."""
    if header == caller.client_id:
        return True
    parts = header.split("/")
    return len(parts) == 4 and parts[2] == caller.institution and parts[3] == caller.application
