"""Who is calling: bearer tokens for applications; for the admin API, an operator with roles.

An operator is a person signed in through OpenID Connect (the `crossroads_operator` session
cookie, operator_session.py), a service account (a hub access token it got with its own key), or
the static admin token while it is enabled. Each route names the permission it needs
(`operator_for`); the roles that grant it are the hub's (domain/operators.py), read on every
request, so a role withdrawn counts at once.

A change sent with the session cookie must carry the session's `X-CSRF-Token` header: a page of
another site can make a browser send a request with the cookie (a top-level form, a same-site
subdomain), but cannot read the token the hub gave its own client.

The dependencies are `async def` although most never await: FastAPI runs a plain `def`
dependency in a thread pool, a hop that cost more than the check itself on every request.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import Request

from ...bootstrap import Hub
from ...domain.callers import Caller
from ...domain.errors import Refusal
from ...domain.operators import ADMIN_TOKEN, Actor, Permission
from ...services.client_assertions import unverified_claims
from .dependencies import hub_of
from .member_slots import member_slot

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CLIENT_HEADERS = (("x-road-client", "X-Road-Client"), ("x-govstack-client", "X-GovStack-Client"))
CSRF_HEADER = "x-csrf-token"


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refusal(
            "unauthenticated",
            "send an access token: Authorization: Bearer <token> (from /oauth/token).",
        )
    return token.strip()


async def application(request: Request) -> Caller:
    """An application of a member institution, by its hub access token."""
    hub = hub_of(request)
    caller = await hub.tokens.authenticate(_bearer(request))
    # X-Road's and GovStack's client headers name the caller again: a header naming another
    # client than the token's is refused, not ignored (it would be audited under the wrong name
    # by any system in between that believes the header).
    for header, label in CLIENT_HEADERS:
        named = request.headers.get(header)
        if named is not None and not await _names(named, caller, hub):
            raise Refusal(
                "unauthenticated",
                f"{label} {named[:100]!r} is not the application this token was issued to.",
                label,
            )
    request.state.caller = caller
    return caller


async def member_application(request: Request) -> AsyncIterator[Caller]:
    """`application`, holding one of its institution's places in this process
    (services/member_load.py) until the route is done: whatever a member's application asks, one
    member's requests in flight are bounded, so that its flood leaves the others' as they were
    (`member_busy` past the bound). The route dependency of every member's route."""
    caller = await application(request)
    with member_slot(request, caller.institution):
        yield caller


def operator_for(
    read: Permission, write: Permission | None = None
) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency: the operator behind the request, refused with `role_required` unless their
    roles grant `read` (GET, HEAD) or `write` (any other method; `read` when not given)."""

    async def dependency(request: Request) -> Caller:
        caller = await operator_caller(request)
        needed = read if request.method in SAFE_METHODS else (write or read)
        assert caller.actor is not None  # every operator caller has an actor
        caller.actor.require(needed)
        return caller

    return dependency


operator = operator_for(Permission.READ, Permission.EDIT)  # the registry's routes


async def operator_caller(request: Request) -> Caller:
    """The operator behind the request, with their roles; not yet checked against a route."""
    actor = await _session_actor(request)
    if actor is None:
        actor = await _bearer_actor(request, _bearer(request))
    caller = Caller.of_operator(actor)
    request.state.caller = caller  # a refusal from here on is audited with the actor
    return caller


def application_or_operator(
    read: Permission = Permission.READ, write: Permission = Permission.EDIT
) -> Callable[[Request], AsyncIterator[Caller]]:
    """A dependency for routes both serve: an operator (with the permission the method needs),
    else an application, holding one of its institution's places (`member_application`)."""
    as_operator = operator_for(read, write)

    async def dependency(request: Request) -> AsyncIterator[Caller]:
        if _has_session(request) or await _is_operator_token(request):
            yield await as_operator(request)
            return
        caller = await application(request)
        with member_slot(request, caller.institution):  # as `member_application`
            yield caller

    return dependency


async def _bearer_actor(request: Request, token: str) -> Actor:
    hub = hub_of(request)
    if hub.admin_token.matches(token):
        return ADMIN_TOKEN
    if token.count(".") == 2:
        actor = await hub.tokens.authenticate_operator(token)
        if actor is not None:
            return actor
        await hub.tokens.authenticate(token)  # a valid application token is still not an operator
        raise Refusal(
            "forbidden", "the admin API needs an operator: sign in, or use a service account."
        )
    if not hub.admin_token.enabled:
        raise Refusal(
            "unauthenticated",
            "the static admin token is disabled on this hub: sign in as an operator, or use a "
            "service account's token.",
        )
    raise Refusal("unauthenticated", "the operator credential is not valid.")


async def _is_operator_token(request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return False
    if hub_of(request).admin_token.matches(token):
        return True
    # Which path checks the token is read from its claims before any check: an application's
    # request (directory changes, discovery) then costs no second signature verification, and a
    # token that only claims to be an operator's is refused by the operator's path.
    try:
        return "operator" in unverified_claims(token)
    except Refusal:
        return False  # not a JWT: the application's path refuses it with its own words


def _has_session(request: Request) -> bool:
    return "session" in request.scope and isinstance(request.session.get("operator"), str)


async def _session_actor(request: Request) -> Actor | None:
    """The signed-in person, when the request carries no bearer token but a session."""
    if "authorization" in request.headers or not _has_session(request):
        return None
    session = request.session
    if request.method not in SAFE_METHODS:
        expected = session.get("csrf")
        sent = request.headers.get(CSRF_HEADER, "")
        if not isinstance(expected, str) or not hmac.compare_digest(
            sent.encode(), expected.encode()
        ):
            raise Refusal(
                "csrf_failed",
                "a change from a signed-in session needs the X-CSRF-Token header that "
                "GET /operator/session gives.",
            )
    return await hub_of(request).operators.actor_of(session["operator"])


async def _names(header: str, caller: Caller, hub: Hub) -> bool:
    """INSTANCE/CLASS/MEMBER/SUBSYSTEM (the subsystem is the application, the class the
    member's in the registry), or our own MEMBER:APPLICATION."""
    if header == caller.client_id:
        return True
    parts = header.split("/")
    if not (
        len(parts) == 4
        and parts[0] == hub.settings.instance
        and parts[2] == caller.institution
        and parts[3] == caller.application
    ):
        return False
    member = await hub.registry_cache.institution(parts[2])
    return member is not None and member.member_class == parts[1]
