"""The declarations service's records in memory (DeclarationStore): employers, mandates, DIMONA
periods, declarations, quarterly wages and the outbox of events, as adapters/sql/declarations.py
keeps them.

The rules are the SQL adapter's: an employer found by enterprise number (refused when the NOSS
number names another), else by NOSS number; a mandate valid on a day from valid_from to valid_to
inclusive; a DmfA's wages replacing an earlier DmfA's for the same quarter and employer; the
events' mutation ids `declaration-<id>-<n>`. Batch files are not kept: their methods raise
NotImplementedError (the batch processing is tested over SQLite).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from crossroads.domain.declarations.dimona import Decision, DimonaPeriod
from crossroads.domain.declarations.dmfa import WorkerSummary
from crossroads.domain.declarations.employers import Employer, EmployerRef
from crossroads.domain.declarations.events import Event
from crossroads.domain.declarations.records import (
    SOCIAL_RISK,
    Batch,
    Declaration,
    Mandate,
    PendingEvent,
    QueueShare,
)
from crossroads.services.ports import DeclarationStore


def _no_batches(method: str) -> NotImplementedError:
    return NotImplementedError(
        f"MemoryDeclarations.{method}: batch files are not faked; test them over SQLite."
    )


class MemoryDeclarations(DeclarationStore):
    def __init__(self) -> None:
        self.employers: dict[str, Employer] = {}
        self.mandates: dict[tuple[str, str, date], date | None] = {}
        self.periods: dict[int, DimonaPeriod] = {}
        self.declarations: dict[int, Declaration] = {}
        self.wages: dict[tuple[int, str], list[dict[str, Any]]] = {}  # (quarter, employer)
        self.outbox: list[PendingEvent] = []
        self._next_seq = 1

    # Employers and mandates -----------------------------------------------------------------

    async def put_employer(self, employer: Employer) -> bool:
        created = employer.company_id not in self.employers
        self.employers[employer.company_id] = employer
        return created

    async def find_employer(self, ref: EmployerRef) -> Employer | None:
        if ref.company_id is not None:
            found = self.employers.get(ref.company_id)
            if found is not None and ref.noss is not None and found.noss != ref.noss:
                return None  # the two numbers name different employers
            return found
        return next((e for e in self.employers.values() if e.noss == ref.noss), None)

    async def put_mandate(
        self, office: str, employer: str, valid_from: date, valid_to: date | None
    ) -> None:
        self.mandates[(office, employer, valid_from)] = valid_to

    async def has_mandate(self, office: str, employer: str | None, day: date) -> bool:
        return any(
            o == office and employer in (None, e) and start <= day and (end is None or end >= day)
            for (o, e, start), end in self.mandates.items()
        )

    async def list_employers(self, after: str, limit: int) -> list[Employer]:
        return [self.employers[n] for n in sorted(self.employers) if n > after][:limit]

    async def list_mandates(
        self,
        office: str | None,
        employer: str | None,
        after: tuple[str, str, date] | None,
        limit: int,
    ) -> list[Mandate]:
        return [
            Mandate(*key, self.mandates[key])
            for key in sorted(self.mandates)
            if office in (None, key[0])
            and employer in (None, key[1])
            and (after is None or key > after)
        ][:limit]

    # DIMONA ---------------------------------------------------------------------------------

    async def record_dimona(
        self,
        employer: str | None,
        inss: str | None,
        period_id: int | None,
        decide: Callable[[list[DimonaPeriod], DimonaPeriod | None], Decision],
        describe: Callable[[Decision, DimonaPeriod | None], tuple[Declaration, list[Event]]],
    ) -> tuple[Declaration, DimonaPeriod | None]:
        # One task at a time runs between awaits, and nothing here awaits: this is atomic.
        named = self.periods.get(period_id) if period_id is not None else None
        if named is not None:
            employer, inss = employer or named.employer, named.inss
        periods = (
            [p for p in self.periods.values() if (p.inss, p.employer) == (inss, employer)]
            if employer and inss
            else []
        )
        decision = decide(periods, named)
        stored = None
        if decision.period is not None:
            stored = decision.period
            if stored.id is None:
                stored = replace(stored, id=max(self.periods, default=0) + 1)
            self.periods[stored.id] = stored  # type: ignore[index]
        declaration, events = describe(decision, stored)
        return self._insert(declaration, events), stored

    async def periods_of(self, inss: str) -> list[DimonaPeriod]:
        return sorted(
            (p for p in self.periods.values() if p.inss == inss),
            key=lambda p: (p.start, p.id or 0),
        )

    async def employer_periods(
        self, employer: str, first: date, last: date
    ) -> dict[str, list[DimonaPeriod]]:
        found: dict[str, list[DimonaPeriod]] = {}
        for period in self.periods.values():
            if (
                period.employer == employer
                and period.start <= last
                and (period.end is None or period.end >= first)
            ):
                found.setdefault(period.inss, []).append(period)
        return found

    # DmfA, social risk, reading back --------------------------------------------------------

    async def record(
        self,
        declaration: Declaration,
        events: list[Event],
        wages: tuple[int, str, list[WorkerSummary]] | None = None,
    ) -> Declaration:
        stored = self._insert(declaration, events)
        if wages is not None:
            quarter, employer, summaries = wages
            merged: dict[tuple[str, str], dict[str, Any]] = {}
            for s in summaries:  # a worker declared twice under one code is summed
                row = merged.setdefault(
                    (s.inss, s.worker_code),
                    {
                        "quarter": quarter,
                        "employer": employer,
                        "inss": s.inss,
                        "worker_code": s.worker_code,
                        "gross_cents": 0,
                        "days": 0,
                        "hours": 0,
                        "joint_committees": [],
                    },
                )
                row["gross_cents"] += s.gross
                row["days"] += s.days
                row["hours"] += s.hours
                row["joint_committees"] = list(
                    dict.fromkeys(row["joint_committees"] + list(s.joint_committees))
                )
            self.wages[(quarter, employer)] = list(merged.values())  # replaces an earlier DmfA's
        return stored

    async def declaration(self, declaration_id: int) -> Declaration | None:
        return self.declarations.get(declaration_id)

    async def batch_declarations(self, batch_id: int) -> list[Declaration]:
        return [d for _, d in sorted(self.declarations.items()) if d.batch_id == batch_id]

    async def declarations_of(
        self, institution: str, before: int | None, limit: int
    ) -> list[Declaration]:
        return [
            d
            for i, d in sorted(self.declarations.items(), reverse=True)
            if d.declarant.startswith(f"{institution}:") and (before is None or i < before)
        ][:limit]

    async def declarations_for(
        self, employer: str, before: int | None, limit: int
    ) -> list[Declaration]:
        return [
            d
            for i, d in sorted(self.declarations.items(), reverse=True)
            if d.employer == employer and (before is None or i < before)
        ][:limit]

    async def batches_of(self, institution: str, limit: int) -> list[Batch]:
        raise _no_batches("batches_of")

    async def social_risks_of(self, inss: str) -> list[Declaration]:
        return [
            d
            for _, d in sorted(self.declarations.items())
            if d.inss == inss and d.kind == SOCIAL_RISK and d.status != "B"
        ]

    async def wages_of(self, inss: str) -> list[dict[str, Any]]:
        rows = [
            {k: v for k, v in row.items() if k != "inss"}
            for rows in self.wages.values()
            for row in rows
            if row["inss"] == inss
        ]
        return sorted(rows, key=lambda r: (r["quarter"], r["employer"], r["worker_code"]))

    # Batch files: not faked -----------------------------------------------------------------

    async def waiting_batches(self, institution: str) -> QueueShare:
        raise _no_batches("waiting_batches")

    async def add_batch(
        self,
        declarant: str,
        kind: str,
        sha256: str,
        content_type: str,
        body: bytes,
        language: str,
        at_ms: int,
        admit: Callable[[QueueShare], None],
    ) -> tuple[Batch, bool]:
        raise _no_batches("add_batch")

    async def batch(self, batch_id: int) -> Batch | None:
        raise _no_batches("batch")

    async def batch_body(self, batch_id: int) -> bytes | None:
        raise _no_batches("batch_body")

    async def next_batch(self) -> Batch | None:
        raise _no_batches("next_batch")

    async def start_batch(self, batch_id: int, at_ms: int) -> int:
        raise _no_batches("start_batch")

    async def finish_batch(
        self,
        batch_id: int,
        status: str,
        acknowledgement: dict[str, Any],
        at_ms: int,
        failed: bool = False,
    ) -> bool:
        raise _no_batches("finish_batch")

    # The outbox of mutations ----------------------------------------------------------------

    async def pending_events(self, limit: int) -> list[PendingEvent]:
        return self.outbox[:limit]

    async def mark_published(self, seqs: list[int]) -> None:
        done = set(seqs)  # published mutations are kept by the mutation service, not here
        self.outbox = [e for e in self.outbox if e.seq not in done]

    async def backlog(self) -> tuple[int, int]:
        return 0, len(self.outbox)  # no batch files are kept

    def _insert(self, declaration: Declaration, events: list[Event]) -> Declaration:
        declaration_id = max(self.declarations, default=0) + 1
        stored = replace(declaration, id=declaration_id)
        self.declarations[declaration_id] = stored
        for n, event in enumerate(events):
            self.outbox.append(
                PendingEvent(
                    self._next_seq,
                    f"declaration-{declaration_id}-{n}",
                    event.type,
                    event.subject,
                    event.effective.isoformat(),
                    {**event.payload, "declaration_id": declaration_id},
                )
            )
            self._next_seq += 1
        return stored
