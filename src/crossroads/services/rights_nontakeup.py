"""The search for non-take-up: persons who meet a right's conditions but do not receive it.

The scan decides the whole population at once on a pseudonymised extract (one vectorised
calculation of the rules), and keeps the pseudonyms of those who would be granted a right they
do not receive. Only those are re-identified, and each is then re-evaluated by the engine like
after any change: their facts read again through the hub, under the engine's authorizations,
and a decision sent to the competent institution alone. The report an institution reads lists
only the decisions it is competent for; the scan's own audit record holds counts, no person.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import date

from ..domain.audit import AuditRecord
from ..domain.callers import Caller
from ..domain.errors import Refusal
from ..domain.rights import Decision
from .clock import Clock
from .ports import AuditLog, Extract, ExtractSource, Rules
from .rights_engine import MAX_PAGE, RightsEngine

NON_TAKE_UP = "non-take-up"
# Persons re-evaluated together: each evaluation mostly waits (facts asked of the sources, the
# store's commit), so a few at once keep the process busy; more would only queue at the sources.
EVALUATIONS_AT_ONCE = 8


@dataclass(frozen=True)
class ScanReport:
    persons: int  # the persons examined (the extract's rows with a pseudonym)
    found: dict[str, int]  # right -> persons eligible who do not receive it
    decisions: int  # decisions sent to the competent institutions
    seconds: float


def missing(rules: Rules, extract: Extract, month: date) -> dict[str, list[str]]:
    """Per right, the pseudonyms of those the rules grant it and who do not receive it."""
    granted = rules.scan(extract.population, month)
    found: dict[str, list[str]] = {}
    for right, flags in granted.items():
        receives = extract.receives.get(right)
        eligible = flags > 0
        if receives is not None:
            eligible = eligible & ~receives
        found[right] = [extract.pseudonyms[i] for i in eligible.nonzero()[0]]
    return found


class NonTakeUp:
    def __init__(
        self,
        engine: RightsEngine,
        rules: Rules,
        source: ExtractSource | None,
        audit: AuditLog,
        clock: Clock,
    ) -> None:
        """`source`: None when no extract is configured (the scan is then refused)."""
        self._engine = engine
        self._rules = rules
        self._source = source
        self._audit = audit
        self._clock = clock

    async def scan(self, actor: str) -> ScanReport:
        if self._source is None:
            raise Refusal("not_found", "no extract for the non-take-up scan is configured.")
        started = time.perf_counter()
        extract = await self._source.extract()
        found = missing(self._rules, extract, self._clock.today().replace(day=1))
        everyone = sorted({p for pseudonyms in found.values() for p in pseudonyms})
        subjects = await self._source.reidentify(everyone)
        waiting = iter([subjects[p] for p in everyone if subjects.get(p) is not None])

        async def evaluate_in_turn() -> int:
            made = 0
            for subject in waiting:  # one iterator shared: each person is taken once
                try:
                    made += len(await self._engine.evaluate(subject, NON_TAKE_UP))
                except Refusal:
                    continue  # its facts could not be read now; the next scan finds it again
            return made

        decisions = sum(
            await asyncio.gather(*(evaluate_in_turn() for _ in range(EVALUATIONS_AT_ONCE)))
        )
        report = ScanReport(
            sum(1 for p in extract.pseudonyms if p),
            {right: len(p) for right, p in found.items()},
            decisions,
            time.perf_counter() - started,
        )
        await self._audit.append(
            AuditRecord(
                kind="rights",
                at_ms=self._clock.now_ms(),
                outcome="ok",
                action="rights.non-take-up-scan",
                actor=actor,
                detail={"persons": report.persons, "found": report.found, "decisions": decisions},
            )
        )
        return report

    async def report(self, caller: Caller, limit: int = MAX_PAGE) -> list[Decision]:
        """The decisions a scan sent to the caller's institution: never another's."""
        decisions = await self._engine.of_institution(caller, None, limit)
        return [d for d in decisions if d.origin == NON_TAKE_UP]
