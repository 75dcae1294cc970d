"""Client assertion ids seen, so that a replayed assertion is refused across all hub processes."""

from __future__ import annotations

import time

from ...services.ports import ReplayGuard
from .database import Database


class SqlReplayGuard(ReplayGuard):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def first_use(self, jti: str, expires_at: int) -> bool:
        now = int(time.time())
        async with self._db.transaction() as tx:
            # Expired ids can be forgotten: an assertion past its exp is refused anyway.
            await tx.execute("DELETE FROM client_assertions WHERE expires_at < ?", (now,))
            inserted = await tx.execute(
                "INSERT INTO client_assertions (jti, expires_at) VALUES (?, ?)"
                " ON CONFLICT (jti) DO NOTHING",
                (jti, expires_at),
            )
        return inserted == 1
