"""The declarations service's tables, on SQLite or PostgreSQL (migration 0010)."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import replace
from datetime import date

import orjson

from ...domain.declarations.anomalies import Anomaly
from ...domain.declarations.dimona import Decision, DimonaPeriod
from ...domain.declarations.dmfa import WorkerSummary
from ...domain.declarations.employers import Employer, EmployerRef
from ...domain.declarations.events import Event
from ...domain.declarations.records import Batch, Declaration, Mandate, PendingEvent, QueueShare
from ...services.ports import DeclarationStore
from .database import Database, Transaction

_PERIOD = (
    "SELECT id, employer, inss, worker_type, joint_committee, start_date, end_date, status"
    " FROM dimona_periods"
)
_DECLARATION = (
    "SELECT id, kind, form, employer, declarant, status, anomalies, language,"
    " received_at_ms, batch_id, period_id, inss, summary FROM declarations"
)
# An institution's declarations, newest first. `declarant_institution` is the declarant's part
# before its first colon, kept by the database (migration 0024), as `declared_by` reads it: the
# page walks the index on (declarant_institution, id) and stops after `limit` rows (EXPLAIN in
# docs/benchmarks.md; tests/integration/test_declarations_of_plan.py).
DECLARATIONS_OF = (
    f"{_DECLARATION} WHERE declarant_institution = ? AND id < ? ORDER BY id DESC LIMIT ?"
)
# The declarations made for an employer, newest first, walked along (employer, id) (migration
# 0029) the same way: an employer's history holds what its payroll offices declared for it.
DECLARATIONS_FOR = f"{_DECLARATION} WHERE employer = ? AND id < ? ORDER BY id DESC LIMIT ?"
_BATCH_COLUMNS = (
    "id, declarant, kind, sha256, content_type, language, status, received_at_ms, done_at_ms,"
    " acknowledgement, attempts, size_bytes"
)
_BATCH = f"SELECT {_BATCH_COLUMNS} FROM declaration_batches"
_WAITING = (  # an institution's share of the batch queue
    "SELECT COUNT(*), COALESCE(SUM(size_bytes), 0)"
    " FROM declaration_batches WHERE status = 'S' AND institution = ?"
)
_INSTITUTION_LOCK = 0x43524F53_42000000  # "CROSB": + a hash of the institution; see add_batch
_WORKER_LOCK = 0x43524F53_44000000  # "CROSD": + a hash of (employer, INSS); see record_dimona


def _period(row) -> DimonaPeriod:
    return DimonaPeriod(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        date.fromisoformat(row[5]),
        date.fromisoformat(row[6]) if row[6] else None,
        row[7],
    )


def _declaration(row) -> Declaration:
    return Declaration(
        id=row[0],
        kind=row[1],
        form=row[2],
        employer=row[3],
        declarant=row[4],
        status=row[5],
        anomalies=[Anomaly.from_dict(a) for a in orjson.loads(row[6])],
        language=row[7],
        received_at_ms=row[8],
        batch_id=row[9],
        period_id=row[10],
        inss=row[11],
        summary=orjson.loads(row[12]),
    )


def _batch(row) -> Batch:
    return Batch(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        orjson.loads(row[9]) if row[9] else None,
        row[10],
        row[11],
    )


class SqlDeclarations(DeclarationStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    # Employers and mandates -----------------------------------------------------------------

    async def put_employer(self, employer: Employer) -> bool:
        async with self._db.transaction() as tx:
            existed = await tx.fetchone(
                "SELECT 1 FROM employers WHERE company_id = ?", (employer.company_id,)
            )
            # An upsert, so that two concurrent puts of a new employer do not both insert it.
            await tx.execute(
                "INSERT INTO employers (company_id, noss, name, active)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (company_id) DO UPDATE"
                " SET noss = excluded.noss, name = excluded.name, active = excluded.active",
                (employer.company_id, employer.noss, employer.name, int(employer.active)),
            )
        return not existed

    async def find_employer(self, ref: EmployerRef) -> Employer | None:
        if ref.company_id is not None:
            row = await self._db.fetchone(
                "SELECT company_id, noss, name, active FROM employers WHERE company_id = ?",
                (ref.company_id,),
            )
            if row is not None and ref.noss is not None and row[1] != ref.noss:
                return None  # the two numbers name different employers
        else:
            row = await self._db.fetchone(
                "SELECT company_id, noss, name, active FROM employers WHERE noss = ?", (ref.noss,)
            )
        return Employer(row[0], row[1], row[2], bool(row[3])) if row else None

    async def put_mandate(
        self, office: str, employer: str, valid_from: date, valid_to: date | None
    ) -> None:
        # One upsert, not a delete then an insert: two concurrent puts of one mandate both found
        # nothing to delete and the second insert broke the key.
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO mandates (office, employer, valid_from, valid_to)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (office, employer, valid_from) DO"
                " UPDATE SET valid_to = excluded.valid_to",
                (
                    office,
                    employer,
                    valid_from.isoformat(),
                    valid_to.isoformat() if valid_to else None,
                ),
            )

    async def has_mandate(self, office: str, employer: str | None, day: date) -> bool:
        text = day.isoformat()
        of_employer, args = (" AND employer = ?", (employer,)) if employer is not None else ("", ())
        row = await self._db.fetchone(
            f"SELECT 1 FROM mandates WHERE office = ?{of_employer}"
            " AND valid_from <= ? AND (valid_to IS NULL OR valid_to >= ?) LIMIT 1",
            (office, *args, text, text),
        )
        return row is not None

    async def list_employers(self, after: str, limit: int) -> list[Employer]:
        rows = await self._db.fetchall(
            "SELECT company_id, noss, name, active FROM employers WHERE company_id > ?"
            " ORDER BY company_id LIMIT ?",
            (after, limit),
        )
        return [Employer(r[0], r[1], r[2], bool(r[3])) for r in rows]

    async def list_mandates(
        self,
        office: str | None,
        employer: str | None,
        after: tuple[str, str, date] | None,
        limit: int,
    ) -> list[Mandate]:
        where, args = [], []
        for column, value in (("office", office), ("employer", employer)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if after is not None:
            where.append("(office, employer, valid_from) > (?, ?, ?)")
            args += [after[0], after[1], after[2].isoformat()]
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        rows = await self._db.fetchall(
            f"SELECT office, employer, valid_from, valid_to FROM mandates{condition}"
            " ORDER BY office, employer, valid_from LIMIT ?",
            (*args, limit),
        )
        return [
            Mandate(
                r[0], r[1], date.fromisoformat(r[2]), date.fromisoformat(r[3]) if r[3] else None
            )
            for r in rows
        ]

    # DIMONA ---------------------------------------------------------------------------------

    async def record_dimona(
        self,
        employer: str | None,
        inss: str | None,
        period_id: int | None,
        decide: Callable[[list[DimonaPeriod], DimonaPeriod | None], Decision],
        describe: Callable[[Decision, DimonaPeriod | None], tuple[Declaration, list[Event]]],
    ) -> tuple[Declaration, DimonaPeriod | None]:
        """Decide on one form against the worker's periods and store the outcome, atomically.

        Two forms about the same employer and worker are decided one after the other (SQLite's
        single writer; a PostgreSQL advisory lock per employer and worker), so no two accepted
        INs can overlap."""
        async with self._db.transaction() as tx:
            named = None
            if period_id is not None:
                row = await tx.fetchone(f"{_PERIOD} WHERE id = ?", (period_id,))
                named = _period(row) if row else None
                if named is not None:
                    employer, inss = employer or named.employer, named.inss
            if self._db.dialect == "postgres" and employer and inss:
                key = _WORKER_LOCK + (zlib.crc32(f"{employer}/{inss}".encode()) & 0xFFFFFF)
                await tx.execute("SELECT pg_advisory_xact_lock(?)", (key,))
                if period_id is not None:  # re-read under the lock
                    row = await tx.fetchone(f"{_PERIOD} WHERE id = ?", (period_id,))
                    named = _period(row) if row else None
            periods = []
            if employer and inss:
                periods = [
                    _period(r)
                    for r in await tx.fetchall(
                        f"{_PERIOD} WHERE inss = ? AND employer = ?", (inss, employer)
                    )
                ]
            decision = decide(periods, named)
            stored = None
            if decision.period is not None:
                stored = await self._save_period(tx, decision.period)
            declaration, events = describe(decision, stored)
            declaration_id = await self._insert_declaration(tx, declaration)
            await self._insert_events(tx, events, declaration_id)
        return _with_id(declaration, declaration_id), stored

    async def _save_period(self, tx: Transaction, period: DimonaPeriod) -> DimonaPeriod:
        values = (
            period.employer,
            period.inss,
            period.worker_type,
            period.joint_committee,
            period.start.isoformat(),
            period.end.isoformat() if period.end else None,
            period.status,
        )
        if period.id is None:
            row = await tx.fetchone(
                "INSERT INTO dimona_periods (employer, inss, worker_type, joint_committee,"
                " start_date, end_date, status) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                values,
            )
            return replace(period, id=row[0])
        await tx.execute(
            "UPDATE dimona_periods SET employer = ?, inss = ?, worker_type = ?,"
            " joint_committee = ?, start_date = ?, end_date = ?, status = ? WHERE id = ?",
            (*values, period.id),
        )
        return period

    async def _insert_declaration(self, tx: Transaction, d: Declaration) -> int:
        row = await tx.fetchone(
            "INSERT INTO declarations (kind, form, employer, declarant, batch_id, status,"
            " period_id, inss, anomalies, summary, language, received_at_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                d.kind,
                d.form,
                d.employer,
                d.declarant,
                d.batch_id,
                d.status,
                d.period_id,
                d.inss,
                orjson.dumps([a.to_dict() for a in d.anomalies]).decode(),
                orjson.dumps(d.summary).decode(),
                d.language,
                d.received_at_ms,
            ),
        )
        return row[0]

    async def _insert_events(
        self, tx: Transaction, events: list[Event], declaration_id: int
    ) -> None:
        if events:
            await tx.executemany(
                "INSERT INTO declaration_events (mutation_id, mutation_type, subject,"
                " effective_date, payload) VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        f"declaration-{declaration_id}-{n}",
                        e.type,
                        e.subject,
                        e.effective.isoformat(),
                        orjson.dumps({**e.payload, "declaration_id": declaration_id}).decode(),
                    )
                    for n, e in enumerate(events)
                ],
            )

    async def periods_of(self, inss: str) -> list[DimonaPeriod]:
        return [
            _period(r)
            for r in await self._db.fetchall(
                f"{_PERIOD} WHERE inss = ? ORDER BY start_date, id", (inss,)
            )
        ]

    async def employer_periods(
        self, employer: str, first: date, last: date
    ) -> dict[str, list[DimonaPeriod]]:
        rows = await self._db.fetchall(
            f"{_PERIOD} WHERE employer = ? AND start_date <= ? AND (end_date IS NULL"
            " OR end_date >= ?)",
            (employer, last.isoformat(), first.isoformat()),
        )
        found: dict[str, list[DimonaPeriod]] = {}
        for row in rows:
            period = _period(row)
            found.setdefault(period.inss, []).append(period)
        return found

    # DmfA, social risk, reading back ----------------------------------------------------------

    async def record(
        self,
        declaration: Declaration,
        events: list[Event],
        wages: tuple[int, str, list[WorkerSummary]] | None = None,
    ) -> Declaration:
        """Store a DmfA (with its workers' quarterly wages, replacing an earlier DmfA's for the
        same quarter and employer) or a social-risk declaration, with its events."""
        async with self._db.transaction() as tx:
            declaration_id = await self._insert_declaration(tx, declaration)
            if wages is not None:
                quarter, employer, summaries = wages
                await tx.execute(
                    "DELETE FROM quarterly_wages WHERE quarter = ? AND employer = ?",
                    (quarter, employer),
                )
                await tx.insert_rows(
                    "quarterly_wages",
                    (
                        "quarter",
                        "employer",
                        "inss",
                        "worker_code",
                        "gross",
                        "days",
                        "hours",
                        "joint_committees",
                        "declaration_id",
                    ),
                    _unique_wages(quarter, employer, summaries, declaration_id),
                )
            await self._insert_events(tx, events, declaration_id)
        return _with_id(declaration, declaration_id)

    async def declaration(self, declaration_id: int) -> Declaration | None:
        row = await self._db.fetchone(f"{_DECLARATION} WHERE id = ?", (declaration_id,))
        return _declaration(row) if row else None

    async def batch_declarations(self, batch_id: int) -> list[Declaration]:
        return [
            _declaration(r)
            for r in await self._db.fetchall(
                f"{_DECLARATION} WHERE batch_id = ? ORDER BY id", (batch_id,)
            )
        ]

    async def declarations_of(
        self, institution: str, before: int | None, limit: int
    ) -> list[Declaration]:
        rows = await self._db.fetchall(DECLARATIONS_OF, (institution, before or 2**63 - 1, limit))
        return [_declaration(r) for r in rows]

    async def declarations_for(
        self, employer: str, before: int | None, limit: int
    ) -> list[Declaration]:
        rows = await self._db.fetchall(DECLARATIONS_FOR, (employer, before or 2**63 - 1, limit))
        return [_declaration(r) for r in rows]

    async def batches_of(self, institution: str, limit: int) -> list[Batch]:
        rows = await self._db.fetchall(
            f"{_BATCH} WHERE institution = ? ORDER BY id DESC LIMIT ?", (institution, limit)
        )
        return [_batch(r) for r in rows]

    async def social_risks_of(self, inss: str) -> list[Declaration]:
        return [
            _declaration(r)
            for r in await self._db.fetchall(
                f"{_DECLARATION} WHERE inss = ? AND kind = 'social-risk'"
                " AND status != 'B' ORDER BY id",
                (inss,),
            )
        ]

    async def wages_of(self, inss: str) -> list[dict]:
        rows = await self._db.fetchall(
            "SELECT quarter, employer, worker_code, gross, days, hours, joint_committees"
            " FROM quarterly_wages WHERE inss = ? ORDER BY quarter, employer, worker_code",
            (inss,),
        )
        return [
            {
                "quarter": r[0],
                "employer": r[1],
                "worker_code": r[2],
                "gross_cents": r[3],
                "days": r[4],
                "hours": r[5],
                "joint_committees": orjson.loads(r[6]),
            }
            for r in rows
        ]

    # Batch files --------------------------------------------------------------------------------

    async def waiting_batches(self, institution: str) -> QueueShare:
        files, size = await self._db.fetchone(_WAITING, (institution,))
        return QueueShare(files, int(size))

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
        """Store a file to process; the same file (same kind and bytes) from the same institution
        (any of its applications) again returns the first, unless that one failed on the hub's
        side. `admit` sees what the institution already has waiting, and raises to refuse the file.

        One institution's uploads are stored one after the other (SQLite's single writer; a
        PostgreSQL advisory lock per institution), so two at once neither both pass the quota
        nor both store the same file."""
        institution = declarant.split(":", 1)[0]
        async with self._db.transaction(large=True) as tx:
            if self._db.dialect == "postgres":
                key = _INSTITUTION_LOCK + (zlib.crc32(institution.encode()) & 0xFFFFFF)
                await tx.execute("SELECT pg_advisory_xact_lock(?)", (key,))
            row = await tx.fetchone(
                f"{_BATCH} WHERE institution = ? AND kind = ? AND sha256 = ? AND failed = 0",
                (institution, kind, sha256),
            )
            if row is not None:
                return _batch(row), False
            files, size = await tx.fetchone(_WAITING, (institution,))
            admit(QueueShare(files, int(size)))
            row = await tx.fetchone(
                "INSERT INTO declaration_batches (declarant, institution, kind, sha256,"
                " content_type, body, size_bytes, language, status, received_at_ms)"
                f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'S', ?) RETURNING {_BATCH_COLUMNS}",
                (
                    declarant,
                    institution,
                    kind,
                    sha256,
                    content_type,
                    body,
                    len(body),
                    language,
                    at_ms,
                ),
            )
        return _batch(row), True

    async def batch(self, batch_id: int) -> Batch | None:
        row = await self._db.fetchone(f"{_BATCH} WHERE id = ?", (batch_id,))
        return _batch(row) if row else None

    async def batch_body(self, batch_id: int) -> bytes | None:
        row = await self._db.fetchone(
            "SELECT body FROM declaration_batches WHERE id = ? AND status = 'S'", (batch_id,)
        )
        return bytes(row[0]) if row and row[0] is not None else None

    async def next_batch(self) -> Batch | None:
        """The waiting file to work on next: institutions take turns (the one whose last file was
        started longest ago, or never, goes first), and each institution's files go oldest first.
        So a file waits for at most one file of each other institution with files waiting."""
        row = await self._db.fetchone(
            f"SELECT {_BATCH_COLUMNS} FROM declaration_batches b WHERE b.status = 'S'"
            " AND b.id = (SELECT MIN(w.id) FROM declaration_batches w"
            " WHERE w.status = 'S' AND w.institution = b.institution)"
            " ORDER BY COALESCE((SELECT MAX(t.started_at_ms)"
            " FROM declaration_batches t WHERE t.institution = b.institution), 0), b.id"
            " LIMIT 1"
        )
        return _batch(row) if row else None

    async def start_batch(self, batch_id: int, at_ms: int) -> int:
        """Count one more attempt at a waiting file, durably, before any work on it; return the
        count."""
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE declaration_batches SET attempts = attempts + 1, started_at_ms = ?"
                " WHERE id = ? AND status = 'S' RETURNING attempts",
                (at_ms, batch_id),
            )
        return row[0] if row else 0

    async def finish_batch(
        self, batch_id: int, status: str, acknowledgement: dict, at_ms: int, failed: bool = False
    ) -> bool:
        """Mark a batch done, dropping its body; False when another process finished it first.
        `failed`: it ended in a fault of the hub's, and the same file may be sent again."""
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE declaration_batches"
                " SET status = ?, acknowledgement = ?, done_at_ms = ?, body = NULL, failed = ?"
                " WHERE id = ? AND status = 'S'",
                (status, orjson.dumps(acknowledgement).decode(), at_ms, int(failed), batch_id),
            )
        return changed == 1

    # The outbox of mutations --------------------------------------------------------------------

    async def pending_events(self, limit: int) -> list[PendingEvent]:
        rows = await self._db.fetchall(
            "SELECT seq, mutation_id, mutation_type, subject, effective_date, payload"
            " FROM declaration_events ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [PendingEvent(r[0], r[1], r[2], r[3], r[4], orjson.loads(r[5])) for r in rows]

    async def backlog(self) -> tuple[int, int]:
        waiting = await self._db.fetchone(
            "SELECT COUNT(*) FROM declaration_batches WHERE status = 'S'"
        )
        pending = await self._db.fetchone("SELECT COUNT(*) FROM declaration_events")
        return waiting[0], pending[0]

    async def mark_published(self, seqs: list[int]) -> None:
        if not seqs:
            return
        async with self._db.transaction() as tx:
            # Published mutations are kept by the mutation service (and the audit log): the outbox
            # only holds what is still to publish.
            await tx.executemany(
                "DELETE FROM declaration_events WHERE seq = ?", [(s,) for s in seqs]
            )


def _with_id(declaration: Declaration, declaration_id: int) -> Declaration:
    return replace(declaration, id=declaration_id)


def _unique_wages(
    quarter: int, employer: str, summaries: list[WorkerSummary], declaration_id: int
) -> list[tuple]:
    """One row per worker and worker code: a worker declared twice in one DmfA is summed."""
    merged: dict[tuple[str, str], list] = {}
    for s in summaries:
        key = (s.inss, s.worker_code)
        if key in merged:
            row = merged[key]
            row[0] += s.gross
            row[1] += s.days
            row[2] += s.hours
            row[3] = list(dict.fromkeys(row[3] + list(s.joint_committees)))
        else:
            merged[key] = [s.gross, s.days, s.hours, list(s.joint_committees)]
    return [
        (quarter, employer, inss, code, g, d, h, orjson.dumps(jc).decode(), declaration_id)
        for (inss, code), (g, d, h, jc) in merged.items()
    ]
