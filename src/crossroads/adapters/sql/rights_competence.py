"""The registry's competent institution per right, on SQLite or PostgreSQL (migration 0018).

One row per right. The rights engine reads it at each decision (not through the registry's
cache), so that a change or a removal holds for the very next decision in every hub process.
"""

from __future__ import annotations

from typing import Any

from ...domain.rights import Competence
from ...services.ports import CompetenceRepository
from .database import Database

_COLUMNS = "SELECT right_code, capacity, institution, legal_basis FROM rights_competence"


class SqlCompetence(CompetenceRepository):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_competence(self, right: str) -> Competence | None:
        row = await self._db.fetchone(f"{_COLUMNS} WHERE right_code = ?", (right,))
        return _competence(row) if row else None

    async def list_competences(self) -> list[Competence]:
        return [
            _competence(row) for row in await self._db.fetchall(f"{_COLUMNS} ORDER BY right_code")
        ]

    async def put_competence(self, competence: Competence) -> bool:
        async with self._db.transaction() as tx:
            existed = await tx.fetchone(
                "SELECT 1 FROM rights_competence WHERE right_code = ?", (competence.right,)
            )
            await tx.execute(
                "INSERT INTO rights_competence (right_code, capacity, institution, legal_basis)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (right_code) DO UPDATE SET"
                " capacity = excluded.capacity, institution = excluded.institution,"
                " legal_basis = excluded.legal_basis",
                (
                    competence.right,
                    competence.capacity,
                    competence.institution,
                    competence.legal_basis,
                ),
            )
        return existed is None

    async def delete_competence(self, right: str) -> bool:
        async with self._db.transaction() as tx:
            removed = await tx.execute(
                "DELETE FROM rights_competence WHERE right_code = ?", (right,)
            )
        return bool(removed)


def _competence(row: Any) -> Competence:
    return Competence(row[0], capacity=row[1], institution=row[2], legal_basis=row[3])
