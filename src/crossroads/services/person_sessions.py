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
subject that is not a valid national number names no citizen. Each count and each ending is
audited with its actor, naming the person by their keyed hash (or operator id, unless it is a
national number), never by a national number.
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

    async def count(self, subject: str, audience: str | None, actor: Actor) -> dict[str, int]:
        """The sessions of the person `subject` names signed in now, per audience. Audited with
        `actor` (whether a person is signed in is theirs to know was asked)."""
        persons = self._persons(subject, audience)
        counts = {
            name: sum([await self._records.count_person(name, p) for p in named])
            for name, named in persons.items()
        }
        await self._record("session.count", subject, persons, counts, actor)
        return counts

    async def end(self, subject: str, audience: str | None, actor: Actor) -> dict[str, int]:
        """End every session of the person `subject` names (of `audience`, or of each), in every
        hub process at their next request; how many ended, per audience. Audited with `actor`,
        even when none was signed in (the operator's intent is on record)."""
        persons = self._persons(subject, audience)
        ended = {
            name: sum([await self._records.end_person(name, p) for p in named])
            for name, named in persons.items()
        }
        await self._record("session.end", subject, persons, ended, actor)
        return ended

    async def _record(
        self,
        action: str,
        subject: str,
        persons: dict[str, list[str]],
        counts: dict[str, int],
        actor: Actor,
    ) -> None:
        # A subject that is a national number is named by its keyed hash in every record, the
        # operators' too (an operator's id is named in clear only when it is not one).
        citizen = self._citizen(subject, required=False)
        key = "ended" if action == "session.end" else "signed_in"
        for name in persons:
            operator = name == "operator" and citizen is None
            await self._audit.append(
                AuditRecord(
                    kind="session",
                    at_ms=self._clock.now_ms(),
                    outcome="ok",
                    action=action,
                    target=persons[name][0] if operator else None,
                    subject_hash=None if operator else (citizen or persons[name][0]),
                    detail={"audience": name, key: counts[name]},
                    actor=actor.id,
                )
            )

    def _persons(self, subject: str, audience: str | None) -> dict[str, list[str]]:
        """The person `subject` names in each audience asked for, as their sessions record them
        (see `person_of` in entrypoints/api/sessions.py): the subject as given (a `sub` may
        begin or end with a space, and is hashed so at sign-in), and for a portal user named by
        a national number, also that number as written without separators."""
        # Printable ASCII, as the keyed hash takes it: a portal user signed in with another
        # `sub` has no session to end (their sign-in could not hash it either).
        if not (0 < len(subject) <= MAX_SUBJECT_CHARS and subject.isascii()) or (
            not subject.isprintable() or not subject.strip()
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
        persons: dict[str, list[str]] = {}
        for name in (audience,) if audience is not None else AUDIENCES:
            if name == "citizen":
                citizen = self._citizen(subject, required=audience is not None)
                if citizen is not None:
                    persons[name] = [citizen]
            elif name == "portal":
                spellings = {subject, self._number(subject) or subject}
                persons[name] = sorted(self._hasher.hex(s) for s in spellings)
            else:
                prefixed = subject.startswith(f"{PERSON}:")
                persons[name] = [subject if prefixed else f"{PERSON}:{subject}"]
        return persons

    def _number(self, subject: str) -> str | None:
        """`subject` as a national number without separators; None when it is not one."""
        try:
            return self._scheme.person_from_claim(subject)
        except Refusal:
            return None

    def _citizen(self, subject: str, required: bool) -> str | None:
        """The citizen's keyed hash; None when `subject` is no national number and the citizen
        audience was not asked for by name (it names a portal user or an operator then)."""
        number = self._number(subject)
        if number is None and required:
            raise Refusal(
                "malformed_request",
                "a citizen is named by their national number; this is not a valid one.",
                "subject",
            )
        return None if number is None else self._hasher.hex(number)
