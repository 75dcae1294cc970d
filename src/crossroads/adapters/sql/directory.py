"""The reference directory over SQL: one row per merged period."""

from __future__ import annotations

from datetime import date

from ...domain.directory import Integration, Phase
from ...domain.periods import ONE_DAY, Period, merge_into, subtract
from ...services.ports import DirectoryRepository, IntegrationChange
from .database import Database, Row, Transaction

_PHASES = {Phase.PROVISIONAL: 1, Phase.DEFINITIVE: 2}
_PHASE_OF = {number: phase for phase, number in _PHASES.items()}
_COLUMNS = "subject_key, institution, capacity, phase, valid_from, valid_to"


def _integration(row: Row) -> Integration:
    end = None if row[5] is None else date.fromordinal(row[5])
    return Integration(
        subject_key=bytes(row[0]), institution=row[1], capacity=row[2], phase=_PHASE_OF[row[3]],
        period=Period(date.fromordinal(row[4]), end),
    )


class SqlDirectory(DirectoryRepository):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def apply(self, changes: list[IntegrationChange]) -> None:
        async with self._db.transaction() as tx:
            for change in changes:
                await self._apply_one(tx, change)

    async def _apply_one(self, tx: Transaction, change: IntegrationChange) -> None:
        rows = await tx.fetchall(
            f"SELECT {_COLUMNS} FROM integrations WHERE subject_key = ? AND institution = ? AND capacity = ?",
            (change.subject_key, change.institution, change.capacity),
        )
        current = [_integration(r) for r in rows]
        if change.op == "integrate":
            assert change.period is not None
            same_phase = [i.period for i in current if i.phase == change.phase]
            absorbed, merged = merge_into(same_phase, change.period)
            for period in absorbed:
                await self._delete(tx, change, change.phase, period)
            await self._insert(tx, change, change.phase, merged)
            return
        removed = change.period or Period(date.min)
        if change.op == "end":
            assert change.end is not None
            removed = Period(change.end + ONE_DAY)
        for integration in current:
            left = subtract(integration.period, removed)
            if left == [integration.period]:
                continue
            await self._delete(tx, change, integration.phase, integration.period)
            for period in left:
                await self._insert(tx, change, integration.phase, period)

    @staticmethod
    async def _delete(tx: Transaction, change: IntegrationChange, phase: Phase, period: Period) -> None:
        await tx.execute(
            "DELETE FROM integrations WHERE subject_key = ? AND institution = ? AND capacity = ?"
            " AND phase = ? AND valid_from = ?",
            (change.subject_key, change.institution, change.capacity, _PHASES[phase], period.start.toordinal()),
        )

    @staticmethod
    async def _insert(tx: Transaction, change: IntegrationChange, phase: Phase, period: Period) -> None:
        await tx.execute(
            f"INSERT INTO integrations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                change.subject_key, change.institution, change.capacity, _PHASES[phase],
                period.start.toordinal(), None if period.end is None else period.end.toordinal(),
            ),
        )

    async def held_by(self, subject_key: bytes, institution: str) -> list[Integration]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM integrations WHERE subject_key = ? AND institution = ?",
            (subject_key, institution),
        )
        return [_integration(r) for r in rows]

    async def holders(self, subject_key: bytes, capacity: str | None = None) -> list[Integration]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM integrations WHERE subject_key = ? ORDER BY institution, capacity, valid_from",
            (subject_key,),
        )
        found = [_integration(r) for r in rows]
        return [i for i in found if capacity is None or i.capacity == capacity]

    async def count(self) -> int:
        row = await self._db.fetchone("SELECT COUNT(*) FROM integrations")
        return row[0] if row else 0
