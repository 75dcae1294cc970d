"""The analysts' privacy budgets, on SQLite or PostgreSQL (migration 0014)."""

from __future__ import annotations

from ...domain.errors import Refusal
from ...services.ports import PrivacyBudgets
from .database import Database


class SqlPrivacyBudgets(PrivacyBudgets):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def spend(self, analyst: str, project: str, amount: int, limit: int, at_ms: int) -> int:
        async with self._db.transaction() as tx:
            # The row exists before the conditional update, so that the update is the one check
            # and the one change: a concurrent spender waits on the row and then sees the total.
            await tx.execute(
                "INSERT INTO privacy_budgets (analyst, project, spent, updated_at_ms)"
                " VALUES (?, ?, 0, ?) ON CONFLICT (analyst, project) DO NOTHING",
                (analyst, project, at_ms),
            )
            changed = await tx.execute(
                "UPDATE privacy_budgets SET spent = spent + ?, updated_at_ms = ?"
                " WHERE analyst = ? AND project = ? AND spent + ? <= ?",
                (amount, at_ms, analyst, project, amount, limit),
            )
            row = await tx.fetchone(
                "SELECT spent FROM privacy_budgets WHERE analyst = ? AND project = ?",
                (analyst, project),
            )
        spent = row[0] if row else 0
        if not changed:
            raise Refusal(
                "privacy_budget_exhausted",
                f"this query needs ε={amount / 1e6:g} and project {project} has "
                f"ε={max(limit - spent, 0) / 1e6:g} left of ε={limit / 1e6:g}.",
                "epsilon",
            )
        return spent

    async def spent(self, analyst: str, project: str) -> int:
        row = await self._db.fetchone(
            "SELECT spent FROM privacy_budgets WHERE analyst = ? AND project = ?",
            (analyst, project),
        )
        return row[0] if row else 0
