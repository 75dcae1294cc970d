"""One person's browser sessions, found and ended by an operator (docs/security.md, "Browser
sessions"; docs/operations.md, "Ending a person's sessions").

A session lasts until its holder signs out or `session_lifetime_seconds` pass, and what the
identity provider vouched for at sign-in is not asked again meanwhile: an employer's staff member
whose role was withdrawn there, or a citizen whose device was stolen, would keep their session
for hours. An operator ends every session of one person here, through
`crossroads sessions end` or `DELETE /admin/sessions`: their rows are deleted from the store every
hub process reads on each request, so each ends at its next request, in every process.

The person is named as the hub's operators know them, the `subject`:
- a citizen by their national number (as the citizens' identity provider vouches for it; the
  store holds only its keyed hash),
- a portal user by the identity provider's `sub` (the store holds only its keyed hash),
- an operator by their operator id `person:SUBJECT` (or the bare subject).
Without an audience, the person's sessions of every audience the subject can name are ended: a
subject that is not a valid national number names no citizen. Each ending is audited with its
actor, naming the person by their keyed hash (or operator id), never by a national number.
"""

from __future__ import annotations

from ..domain.audit import AuditRecord
from ..domain.errors import Refusal
from ..domain.identifiers import IdentifierScheme
from ..domain.operators import PERSON, Actor
from ..domain.subjects import SubjectHasher
from .clock import Clock
from .ports import AuditLog
from .session_records import AUDIENCES, SessionRecords

MAX_SUBJECT_CHARS = 256


class PersonSessions:
    def __init__(
        self,
        records: SessionRecords,
        scheme: IdentifierScheme,
        hasher: SubjectHasher,
        audit: AuditLog,
        clock: Clock,
    ) -> None:
        self._records = records
        self._scheme = scheme
        self._hasher = hasher
        self._audit = audit
        self._clock = clock

    async def count(self, subject: str, audience: str | None = None) -> dict[str, int]:
        """The sessions of the person `subject` names signed in now, per audience."""
        return {
            name: await self._records.count_person(name, person)
            for name, person in self._persons(subject, audience).items()
        }

    async def end(self, subject: str, audience: str | None, actor: Actor) -> dict[str, int]:
        """End every session of the person `subject` names (of `audience`, or of each), in every
        hub process at their next request; how many ended, per audience. Audited with `actor`,
        even when none was signed in (the operator's intent is on record)."""
        persons = self._persons(subject, audience)
        ended = {name: await self._records.end_person(name, p) for name, p in persons.items()}
        for name, person in persons.items():
            await self._audit.append(
                AuditRecord(
                    kind="session",
                    at_ms=self._clock.now_ms(),
                    outcome="ok",
                    action="session.end",
                    target=person if name == "operator" else None,
                    subject_hash=None if name == "operator" else person,
                    detail={"audience": name, "ended": ended[name]},
                    actor=actor.id,
                )
            )
        return ended

    def _persons(self, subject: str, audience: str | None) -> dict[str, str]:
        """The person `subject` names in each audience asked for, as their sessions record them
        (see `person_of` in entrypoints/api/sessions.py)."""
        subject = subject.strip()
        # Printable ASCII, as the keyed hash takes it: a portal user signed in with another
        # `sub` has no session to end (their sign-in could not hash it either).
        if not (0 < len(subject) <= MAX_SUBJECT_CHARS and subject.isascii()) or (
            not subject.isprintable()
        ):
            raise Refusal(
                "malformed_request",
                f"name the person: a subject of 1 to {MAX_SUBJECT_CHARS} printable ASCII "
                "characters.",
                "subject",
            )
        if audience is not None and audience not in AUDIENCES:
            raise Refusal(
                "malformed_request",
                f"a session's audience is {', '.join(AUDIENCES)}, not {audience[:40]!r}.",
                "audience",
            )
        persons: dict[str, str] = {}
        for name in (audience,) if audience is not None else AUDIENCES:
            if name == "citizen":
                citizen = self._citizen(subject, required=audience is not None)
                if citizen is not None:
                    persons[name] = citizen
            elif name == "portal":
                persons[name] = self._hasher.hex(subject)
            else:
                prefixed = subject.startswith(f"{PERSON}:")
                persons[name] = subject if prefixed else f"{PERSON}:{subject}"
        return persons

    def _citizen(self, subject: str, required: bool) -> str | None:
        """The citizen's keyed hash; None when `subject` is no national number and the citizen
        audience was not asked for by name (it names a portal user or an operator then)."""
        try:
            return self._hasher.hex(self._scheme.person_from_claim(subject))
        except Refusal:
            if required:
                raise Refusal(
                    "malformed_request",
                    "a citizen is named by their national number; this is not a valid one.",
                    "subject",
                ) from None
            return None
