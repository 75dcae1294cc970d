"""Records written straight into a hub's store for the statistics tests: DmfA wages under their
declarations, DIMONA periods, social-risk declarations, and exchanges in the audit log."""

from __future__ import annotations

import orjson

from crossroads.adapters.sql.store import SqlStore
from crossroads.domain.audit import AuditRecord
from crossroads.domain.rights import Decision, Fact, RuleOutcome
from crossroads.domain.subjects import SubjectHasher

AT_MS = 1_735_776_000_000  # 2025-01-02
FUND = "0411905847"


def inss(n: int) -> str:
    return f"{85_000_000_000 + n:011d}"


async def add_wages(
    store: SqlStore, rows: list[tuple[int, str, str, str, int]], employer: str = "0403170701"
) -> int:
    """One DmfA declaration holding `rows` of (person number, quarter, worker code, joint
    committee, gross cents); its id."""
    async with store.db.transaction() as tx:
        row = await tx.fetchone(
            "INSERT INTO declarations (kind, form, employer, declarant, status, inss, anomalies,"
            " summary, language, received_at_ms) VALUES ('dmfa', 'dmfa', ?, ?, 'accepted', NULL,"
            " '[]', '{}', 'en', ?) RETURNING id",
            (employer, employer, AT_MS),
        )
        declaration = row[0]
        await tx.executemany(
            "INSERT INTO quarterly_wages (quarter, employer, inss, worker_code, gross, days, hours,"
            " joint_committees, declaration_id) VALUES (?, ?, ?, ?, ?, 60, 456, ?, ?)"
            " ON CONFLICT (inss, quarter, employer, worker_code) DO UPDATE SET"
            " gross = excluded.gross, declaration_id = excluded.declaration_id",
            [
                (q, employer, inss(p), code, gross, orjson.dumps([jc]).decode(), declaration)
                for p, q, code, jc, gross in rows
            ],
        )
    return declaration


async def add_exchanges(
    store: SqlStore, hasher: SubjectHasher, persons: list[int], outcome: str = "ok"
) -> None:
    await store.audit.append_many(
        [
            AuditRecord(
                kind="exchange",
                at_ms=AT_MS,
                outcome=outcome,
                consumer="0411905847",
                application="case-app",
                service="identity",
                purpose="benefits",
                subject_hash=hasher.hex(inss(p)),
                latency_us=1500,
            )
            for p in persons
        ]
    )


def decision(p: int, right: str = "increased-reimbursement", origin: str = "change") -> Decision:
    """A rights decision granting `right` to person `p` (a child for p == 2), at AT_MS."""
    return Decision(
        id=f"{right}-{p}",
        subject=inss(p),
        right=right,
        change="granted",
        outcome=RuleOutcome(right, True, None, "demo-be/test", "2025-01", {}, ("law",)),
        facts=(Fact("child", p == 2, "household.composition/1"),),
        competent=FUND,
        decided_at_ms=AT_MS,
        origin=origin,
    )
