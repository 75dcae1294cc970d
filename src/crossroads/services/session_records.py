"""The browser sessions that are signed in, recorded in the store so that signing out ends them
(docs/security.md, "Browser sessions").

A session's cookie is signed, so the hub knows it made it; but a signature cannot be taken back:
a copy of a cookie kept working after its browser signed out, for as long as its idle timeout
let it. So signing in also records a random session id in the store every hub process shares,
and the cookie carries it: a request whose session id has no row (signed out, or ended) is
served as signed out, by every process, from the moment the row is deleted. Nothing of it is
cached in a process, for a cache would have to be told of every sign-out at once.

Each row holds:
- the SHA-256 of the session id (the store never holds what the cookie carries),
- the audience (`citizen`, `portal`, `operator`) and the SHA-256 of whom the session was opened
  for: a session id is good only in a session of that audience, for that identity,
- the SHA-256 of the audience and the person alone (`person`): a portal session's identity also
  holds the organisation and role it acts in, so the person's own digest is what finds all of
  someone's sessions, for an operator to end them (services/person_sessions.py),
- the session's absolute end: signing in again is needed after `session_lifetime_seconds`,
  however active the session. The idle timeout stays the cookie's (its signed timestamp, renewed
  on each answer): a row is never written on a page's way.

The rows of ended sessions are deleted at sign-in (at most once a minute in a process), so the
table holds no more than the sessions of the last `session_lifetime_seconds`.
"""

from __future__ import annotations

import hashlib
import json
import secrets

from .clock import Clock
from .ports import BrowserSessionStore

AUDIENCES = ("citizen", "portal", "operator")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _identity(audience: str, identity: object) -> str:
    return _digest(json.dumps([audience, identity], sort_keys=True, separators=(",", ":")))


class SessionRecords:
    def __init__(self, store: BrowserSessionStore, clock: Clock, lifetime_seconds: int) -> None:
        self._store = store
        self._clock = clock
        self._lifetime = lifetime_seconds

    async def open(self, audience: str, identity: object, person: str) -> str:
        """Record a new session of `audience` for `identity` (what the session holds of whom it
        is, JSON-serialisable), who is `person` (a citizen's keyed hash, a portal user's keyed
        hash of their subject, an operator's id), and answer its id, for the cookie."""
        if audience not in AUDIENCES:
            raise ValueError(f"unknown session audience {audience!r}")
        session_id = secrets.token_urlsafe(32)
        now = int(self._clock.now())
        await self._store.open(
            _digest(session_id),
            audience,
            _identity(audience, identity),
            _identity(audience, person),
            now + self._lifetime,
            now,
        )
        return session_id

    async def holds(self, session_id: object, audience: str, identity: object) -> bool:
        """True while the session `session_id` is signed in, for this audience and identity."""
        if not isinstance(session_id, str) or not session_id:
            return False
        found = await self._store.find(_digest(session_id))
        if found is None:
            return False
        recorded_audience, recorded_identity, ends_at = found
        return (
            recorded_audience == audience
            and secrets.compare_digest(recorded_identity, _identity(audience, identity))
            and self._clock.now() < ends_at
        )

    async def end(self, session_id: object) -> None:
        """Sign the session out, in every hub process at once (nothing when it was not open)."""
        if isinstance(session_id, str) and session_id:
            await self._store.end(_digest(session_id))

    async def end_person(self, audience: str, person: str) -> int:
        """Sign out every session of `audience` opened for `person` (as `open` was given it), in
        every hub process at once; how many were recorded."""
        return await self._store.end_person(_identity(audience, person))

    async def count_person(self, audience: str, person: str) -> int:
        """How many sessions of `audience` opened for `person` are signed in now."""
        return await self._store.count_person(_identity(audience, person), int(self._clock.now()))
