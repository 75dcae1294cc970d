"""The rights engine: decide a person's rights from their facts, and tell the competent
institution when a right starts or ends.

A decision is taken when the rules' outcome differs from the person's latest decision of that
right (domain/rights.py, `change_of`). It is stored with its explanation, then published as a
`right.granted.<right>` or `right.ended.<right>` mutation by the engine's application, like any
authentic source's mutation: audited, and delivered to the institutions that subscribed and hold
the person.
The competent institution then confirms or refuses it here; the answer is audited too.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import date

from ..domain.audit import AuditRecord
from ..domain.callers import Caller
from ..domain.errors import Refusal
from ..domain.identifiers import IdentifierScheme
from ..domain.rights import (
    CONFIRMED,
    REFUSED,
    Decision,
    change_of,
    check_answer,
    mutation_type,
)
from ..domain.subjects import SubjectHasher
from .clock import Clock
from .mutations import MutationService, Published
from .ports import AuditLog, CompetenceRepository, RightsRepository, Rules
from .rights_facts import FactReader

MAX_REASON = 500
MAX_PAGE = 1000


class RightsEngine:
    def __init__(
        self,
        reader: FactReader,
        rules: Rules,
        store: RightsRepository,
        mutations: MutationService,
        audit: AuditLog,
        scheme: IdentifierScheme,
        hasher: SubjectHasher,
        clock: Clock,
        competence: CompetenceRepository,
    ) -> None:
        """`competence`: the registry's competent institution per right, read at each decision
        (services/rights_competence.py)."""
        self.reader = reader
        self.rules = rules
        self._store = store
        self._mutations = mutations
        self._audit = audit
        self._scheme = scheme
        self._hasher = hasher
        self._clock = clock
        self._competence = competence

    async def evaluate(self, subject: str, origin: str = "change") -> list[Decision]:
        """Re-evaluate one person: read their facts, decide, and publish what changed.
        `origin` says what led to it (a change, or a non-take-up scan)."""
        subject = self._scheme.normalise_person(subject, "subject")
        today = self._clock.today()
        key = self._hasher.key(subject)
        # The person's latest decisions are read while their facts are (no wait on PostgreSQL).
        read, latest = await asyncio.gather(self.reader.read(subject), self._store.latest(key))
        [outcomes] = self.rules.decide([read.situation], today.replace(day=1))
        made = []
        for outcome in outcomes:
            previous = latest.get(outcome.right)
            change = change_of(previous, outcome)
            if change is None:
                continue
            made.append(
                Decision(
                    id=decision_id(key, outcome.right, change, previous),
                    subject=subject,
                    right=outcome.right,
                    change=change,
                    outcome=outcome,
                    facts=read.facts,
                    competent=await self.competent(outcome.right, read.holders),
                    decided_at_ms=self._clock.now_ms(),
                    origin=origin,
                )
            )
        if not made:
            return made
        # The rights that change are announced together (their audit records share one commit)
        # and each decision is stored with its announcement in one transaction: audited first,
        # then stored and announced at once or not at all. Two disk flushes, however many
        # rights change; each commit is a flush, most of a re-evaluation's time.
        by_id = {decision.id: decision for decision in made}
        announced = await self._mutations.publish_together(
            self.reader.caller,
            [(mutation_type(d.change, d.right), _announcement(d, today)) for d in made],
            write=lambda items: self._store.add([by_id[m.id] for m, _, _ in items], key, items),
        )
        # Announced before under the same id, by a version that stored a decision only after
        # announcing it and stopped in between: stored now.
        earlier = [
            decision
            for decision, told in zip(made, announced, strict=True)
            if isinstance(told, Published) and told.status == "duplicate"
        ]
        if earlier:
            await self._store.add(earlier, key)
        for told in announced:
            if isinstance(told, Refusal):
                raise told
        return made

    async def competent(self, right: str, holders: Sequence[tuple[str, str]]) -> str | None:
        """The institution that confirms a decision: as the registry names it for the right now
        (read from the store, not a cache: a changed or removed competence holds for the very
        next decision in every process; one small read, and only when a right changes)."""
        competence = await self._competence.get_competence(right)
        return None if competence is None else competence.competent(holders)

    async def of_person(self, subject: str) -> list[Decision]:
        subject = self._scheme.normalise_person(subject, "subject")
        return await self._store.of_person(self._hasher.key(subject))

    async def of_institution(
        self, caller: Caller, status: str | None, limit: int
    ) -> list[Decision]:
        if caller.institution is None:
            raise Refusal("forbidden", "decisions are listed for a member institution.")
        if not 1 <= limit <= MAX_PAGE:
            raise Refusal("malformed_request", f"limit is between 1 and {MAX_PAGE}.", "limit")
        if status not in (None, "pending", CONFIRMED, REFUSED):
            raise Refusal("malformed_request", "status is pending, confirmed or refused.", "status")
        return await self._store.of_institution(caller.institution, status, limit)

    async def recent(self, limit: int) -> list[Decision]:
        """The operator's view: every institution's decisions, newest first."""
        if not 1 <= limit <= MAX_PAGE:
            raise Refusal("malformed_request", f"limit is between 1 and {MAX_PAGE}.", "limit")
        return await self._store.recent(limit)

    async def answer(
        self, caller: Caller, decision_id: str, confirm: bool, reason: str | None
    ) -> Decision:
        """The competent institution confirms or refuses a decision, once; audited."""
        if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
            raise Refusal(
                "malformed_request", f"reason is text of at most {MAX_REASON} characters.", "reason"
            )
        decision = await self._store.get(decision_id)
        if decision is None:
            raise Refusal("not_found", f"no decision {decision_id[:100]!r}.", "decision")
        check_answer(decision, caller.institution)
        status = CONFIRMED if confirm else REFUSED
        answered = decision.answered(status, caller.client_id or "", reason)
        await self._audit.append(
            AuditRecord(
                kind="rights",
                at_ms=self._clock.now_ms(),
                outcome="ok",
                action=f"rights.{'confirm' if confirm else 'refuse'}",
                consumer=caller.institution,
                application=caller.application,
                service=mutation_type(decision.change, decision.right),
                subject_hash=self._hasher.key(decision.subject).hex(),
                target=decision.id,
                detail={"right": decision.right, "status": status},
            )
        )
        if not await self._store.answer(answered):
            raise Refusal("conflict", f"decision {decision.id} was answered meanwhile.", "decision")
        return answered


def decision_id(key: bytes, right: str, change: str, previous: Decision | None) -> str:
    """The same person, right, change and previous decision always give the same id."""
    basis = f"{key.hex()}:{right}:{change}:{previous.id if previous else ''}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def _announcement(decision: Decision, today: date) -> dict[str, object]:
    """The `right.granted.<right>` / `right.ended.<right>` mutation of a decision."""
    return {
        "id": decision.id,
        "subject": decision.subject,
        "effective_date": today.replace(day=1).isoformat(),
        "payload": {
            "right": decision.right,
            "decision": decision.id,
            "rule_version": decision.outcome.rule_version,
            "amount": decision.outcome.amount,
            "competent_institution": decision.competent,
        },
    }
