"""Identifier links with peer hubs in SQL (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from ...domain.identifier_links import IdentifierLink
from ...services.ports import IdentifierLinkStore
from .database import Database

_COLUMNS = "peer, local_id, remote_id, authority, recorded_at_ms"


class SqlIdentifierLinks(IdentifierLinkStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, link: IdentifierLink) -> IdentifierLink | None:
        async with self._db.transaction() as tx:
            # Read and write in one transaction: two authorities' applications recording the
            # same remote identifier at once meet the unique index, not a silent overwrite.
            row = await tx.fetchone(
                f"SELECT {_COLUMNS} FROM identifier_links WHERE peer = ? AND remote_id = ?"
                " AND local_id <> ?",
                (link.peer, link.remote, link.local),
            )
            if row is not None:
                return IdentifierLink(*row)
            await tx.execute(
                "INSERT INTO identifier_links (peer, local_id, remote_id, authority,"
                " recorded_at_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT (peer, local_id) DO UPDATE"
                " SET remote_id = excluded.remote_id, authority = excluded.authority,"
                " recorded_at_ms = excluded.recorded_at_ms",
                (link.peer, link.local, link.remote, link.authority, link.recorded_at_ms),
            )
        return None

    async def remote_of(self, peer: str, local: str) -> IdentifierLink | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM identifier_links WHERE peer = ? AND local_id = ?",
            (peer, local),
        )
        return None if row is None else IdentifierLink(*row)

    async def local_of(self, peer: str, remote: str) -> IdentifierLink | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM identifier_links WHERE peer = ? AND remote_id = ?",
            (peer, remote),
        )
        return None if row is None else IdentifierLink(*row)

    async def withdraw(self, peer: str, local: str) -> bool:
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "DELETE FROM identifier_links WHERE peer = ? AND local_id = ?", (peer, local)
            )
        return changed == 1
