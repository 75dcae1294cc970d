"""The rights engine's decisions, on SQLite or PostgreSQL (migration 0016).

A decision is one row: what is searched on in columns (the person's key, the right, the
competent institution and the answer), the rest as the decision's JSON. Each change of a row
(stored, answered) draws a new `changed` number, and on PostgreSQL records its transaction
(migration 0023): the statistics extraction reads the decisions' changes in commit order
(statistics_source.py), so an answer reaches the warehouse after its decision did.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson

from ...domain.rights import PENDING, REFUSED, Decision, Fact, RuleOutcome
from ...services.ports import Publication, RightsRepository
from .database import Database
from .mutations import publish_in

_COLUMNS = "body, status"


# The next change's number: from a sequence on PostgreSQL (its transaction orders it: xact_id's
# default, or set by the answer); on SQLite the highest plus one, drawn under the one writer.
_NEXT_CHANGE = {
    "postgres": "nextval('rights_decisions_changed')",
    "sqlite": "(SELECT COALESCE(MAX(changed), 0) + 1 FROM rights_decisions)",
}


class SqlRights(RightsRepository):
    def __init__(self, db: Database) -> None:
        self._db = db
        self._next_change = _NEXT_CHANGE[db.dialect]

    async def add(
        self,
        decisions: Sequence[Decision],
        subject_key: bytes,
        publications: list[Publication] | None = None,
    ) -> list[bytes | None]:
        # One transaction for the decisions of one evaluation and the mutations announcing them:
        # a commit is a disk flush (synchronous=FULL), the larger part of a re-evaluation's time
        # (docs/rights.md), and a decision is never announced without being stored.
        seq = time.time_ns()
        async with self._db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO rights_decisions (id, seq, subject_key, subject, right_code, change,"
                " competent, status, decided_at_ms, body, origin, age_group, changed)"
                f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {self._next_change})"
                # The same facts give the same id: a decision two evaluations of one person
                # made at once (two scans, a scan and a trigger) is one decision, stored once.
                " ON CONFLICT (id) DO NOTHING",
                [
                    (
                        decision.id,
                        seq + n,
                        subject_key,
                        decision.subject,
                        decision.right,
                        decision.change,
                        decision.competent,
                        decision.status,
                        decision.decided_at_ms,
                        _body(decision),
                        decision.origin,
                        age_group(decision),
                    )
                    for n, decision in enumerate(decisions)
                ],
            )
            return await publish_in(tx, self._db.dialect == "postgres", publications or [])

    async def get(self, decision_id: str) -> Decision | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM rights_decisions WHERE id = ?", (decision_id,)
        )
        return _decision(row) if row else None

    async def latest(self, subject_key: bytes) -> dict[str, Decision]:
        found: dict[str, Decision] = {}
        for decision in await self.of_person(subject_key):
            found[decision.right] = decision  # oldest first: the last one stays
        return found

    async def of_person(self, subject_key: bytes) -> list[Decision]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM rights_decisions WHERE subject_key = ? ORDER BY seq",
            (subject_key,),
        )
        return [_decision(row) for row in rows]

    async def answer(self, decision: Decision) -> bool:
        # A change of its own, in commit order: the statistics read the answered decision again.
        transaction = ", xact_id = pg_current_xact_id()" if self._db.dialect == "postgres" else ""
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                f"UPDATE rights_decisions SET status = ?, body = ?, changed = {self._next_change}"
                f"{transaction} WHERE id = ? AND status = ?",
                (decision.status, _body(decision), decision.id, PENDING),
            )
        return bool(changed)

    async def of_institution(
        self, institution: str, status: str | None, limit: int
    ) -> list[Decision]:
        if status is None:
            rows = await self._db.fetchall(
                f"SELECT {_COLUMNS} FROM rights_decisions WHERE competent = ?"
                " ORDER BY seq DESC LIMIT ?",
                (institution, limit),
            )
        else:
            rows = await self._db.fetchall(
                f"SELECT {_COLUMNS} FROM rights_decisions WHERE competent = ? AND status = ?"
                " ORDER BY seq DESC LIMIT ?",
                (institution, status, limit),
            )
        return [_decision(row) for row in rows]

    async def recent(self, limit: int) -> list[Decision]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM rights_decisions ORDER BY seq DESC LIMIT ?", (limit,)
        )
        return [_decision(row) for row in rows]

    async def holders(self, right: str) -> set[bytes]:
        rows = await self._db.fetchall(
            "SELECT subject_key, change, status FROM rights_decisions WHERE right_code = ?"
            " ORDER BY seq",
            (right,),
        )
        latest: dict[bytes, tuple[str, str]] = {}
        for key, change, status in rows:
            latest[bytes(key)] = (change, status)
        return {
            key
            for key, (change, status) in latest.items()
            if change == "granted" and status != REFUSED
        }


def age_group(decision: Decision) -> str | None:
    """ "child" or "adult", as the decision's `child` fact says; None when it has none."""
    for fact in decision.facts:
        if fact.name == "child":
            return "child" if fact.value else "adult"
    return None


def _body(decision: Decision) -> str:
    return orjson.dumps(
        {
            "id": decision.id,
            "subject": decision.subject,
            "right": decision.right,
            "change": decision.change,
            "outcome": decision.outcome.as_dict(),
            "facts": [fact.as_dict() for fact in decision.facts],
            "competent": decision.competent,
            "decided_at_ms": decision.decided_at_ms,
            "answered_by": decision.answered_by,
            "answer_reason": decision.answer_reason,
            "origin": decision.origin,
        }
    ).decode()


def _decision(row: Any) -> Decision:
    body = orjson.loads(row[0])
    outcome = body["outcome"]
    return Decision(
        id=body["id"],
        subject=body["subject"],
        right=body["right"],
        change=body["change"],
        outcome=RuleOutcome(
            right=outcome["right"],
            granted=outcome["granted"],
            amount=outcome["amount"],
            rule_version=outcome["rule_version"],
            month=outcome["month"],
            parameters=outcome["parameters"],
            legal_basis=tuple(outcome["legal_basis"]),
        ),
        facts=tuple(Fact(**fact) for fact in body["facts"]),
        competent=body["competent"],
        decided_at_ms=body["decided_at_ms"],
        status=row[1],
        answered_by=body["answered_by"],
        answer_reason=body["answer_reason"],
        origin=body["origin"],
    )
