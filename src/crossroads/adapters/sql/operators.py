"""Operators, service accounts and four-eyes proposals over SQL.

Read from the store on every call, without a cache: the admin API is not a hot path, and a role
withdrawn or a service account disabled through one hub process must count in every other at the
next request.
"""

from __future__ import annotations

import json
import secrets

from ...domain.operators import Operator, Role
from ...domain.proposals import APPROVED, PENDING, Proposal
from ...services.ports import ChangedMeanwhile, Expected, OperatorRepository
from .database import Database, Row

_OPERATOR = "SELECT id, roles, active, jwks FROM operators"
_PROPOSAL = (
    "SELECT id, kind, action, key, body, proposed_by, proposed_at_ms, state, decided_by,"
    " decided_at_ms, reason FROM proposals"
)


def _operator(row: Row) -> Operator:
    return Operator(
        id=row[0],
        roles=tuple(Role(r) for r in json.loads(row[1])),
        active=bool(row[2]),
        jwks=None if row[3] is None else json.loads(row[3]),
    )


def _proposal(row: Row) -> Proposal:
    return Proposal(
        id=row[0],
        kind=row[1],
        action=row[2],
        key=row[3],
        body=json.loads(row[4]),
        proposed_by=row[5],
        proposed_at_ms=row[6],
        state=row[7],
        decided_by=row[8],
        decided_at_ms=row[9],
        reason=row[10],
    )


class SqlOperators(OperatorRepository):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put_operator(
        self, operator: Operator, expected: Expected[Operator] | None = None
    ) -> bool:
        roles = json.dumps([r.value for r in operator.roles])
        jwks = None if operator.jwks is None else json.dumps(operator.jwks, sort_keys=True)
        # With `expected`, the row is read locked on PostgreSQL (SQLite's transaction holds the
        # database's write lock already): no write lands between the check and this one.
        lock = " FOR UPDATE" if expected is not None and self._db.dialect == "postgres" else ""
        async with self._db.transaction() as tx:
            if expected is not None:
                now = await tx.fetchone(f"{_OPERATOR} WHERE id = ?{lock}", (operator.id,))
                if (None if now is None else _operator(now)) != expected.entry:
                    raise ChangedMeanwhile(f"operator {operator.id} changed meanwhile.")
            before = await tx.fetchone(
                "SELECT active, jwks, token_epoch FROM operators WHERE id = ?", (operator.id,)
            )
            same_credential = (
                before is not None and bool(before[0]) and operator.active and before[1] == jwks
            )
            epoch = before[2] if same_credential and before else secrets.token_hex(8)
            # Expected absent: an operator added since the check (PostgreSQL locks no row that
            # is not there) makes the insert do nothing, never replace what another wrote.
            fresh_only = expected is not None and expected.entry is None
            if not fresh_only:
                await tx.execute("DELETE FROM operators WHERE id = ?", (operator.id,))
            written = await tx.execute(
                "INSERT INTO operators (id, roles, active, jwks, token_epoch)"
                " VALUES (?, ?, ?, ?, ?)" + (" ON CONFLICT (id) DO NOTHING" if fresh_only else ""),
                (operator.id, roles, int(operator.active), jwks, epoch),
            )
            if fresh_only and written == 0:
                raise ChangedMeanwhile(f"operator {operator.id} was added meanwhile.")
        return before is None

    async def get_operator(self, operator_id: str) -> Operator | None:
        row = await self._db.fetchone(f"{_OPERATOR} WHERE id = ?", (operator_id,))
        return None if row is None else _operator(row)

    async def list_operators(self) -> list[Operator]:
        return [_operator(r) for r in await self._db.fetchall(f"{_OPERATOR} ORDER BY id")]

    async def delete_operator(self, operator_id: str) -> bool:
        async with self._db.transaction() as tx:
            return await tx.execute("DELETE FROM operators WHERE id = ?", (operator_id,)) > 0

    async def operator_epoch(self, operator_id: str) -> str | None:
        row = await self._db.fetchone(
            "SELECT token_epoch FROM operators WHERE id = ? AND active = 1", (operator_id,)
        )
        return None if row is None else row[0]

    async def add_proposal(self, proposal: Proposal) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO proposals (id, kind, action, key, body, proposed_by, proposed_at_ms,"
                " state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    proposal.id,
                    proposal.kind,
                    proposal.action,
                    proposal.key,
                    json.dumps(proposal.body, sort_keys=True),
                    proposal.proposed_by,
                    proposal.proposed_at_ms,
                    proposal.state,
                ),
            )

    async def get_proposal(self, proposal_id: str) -> Proposal | None:
        row = await self._db.fetchone(f"{_PROPOSAL} WHERE id = ?", (proposal_id,))
        return None if row is None else _proposal(row)

    async def list_proposals(self, state: str | None = None) -> list[Proposal]:
        if state is None:
            rows = await self._db.fetchall(f"{_PROPOSAL} ORDER BY proposed_at_ms, id")
        else:
            rows = await self._db.fetchall(
                f"{_PROPOSAL} WHERE state = ? ORDER BY proposed_at_ms, id", (state,)
            )
        return [_proposal(r) for r in rows]

    async def decide_proposal(self, proposal: Proposal) -> bool:
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE proposals SET state = ?, decided_by = ?, decided_at_ms = ?, reason = ?"
                " WHERE id = ? AND state = ?",
                (
                    proposal.state,
                    proposal.decided_by,
                    proposal.decided_at_ms,
                    proposal.reason,
                    proposal.id,
                    PENDING,
                ),
            )
        return changed == 1

    async def reopen_proposal(self, proposal: Proposal) -> bool:
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE proposals SET state = ?, decided_by = NULL, decided_at_ms = NULL,"
                " reason = NULL WHERE id = ? AND state = ? AND decided_by = ?",
                (PENDING, proposal.id, APPROVED, proposal.decided_by),
            )
        return changed == 1
