"""The audit log in memory (AuditLog): records numbered in the order they are appended."""

from __future__ import annotations

from crossroads.domain.audit import AuditRecord
from crossroads.services.ports import AuditLog, StoreUnavailable


class MemoryAuditLog(AuditLog):
    def __init__(self) -> None:
        self.entries: list[bytes] = []  # canonical records; seq = position + 1
        self.unreachable = False  # True: appends fail as when the store is out
        self.on_their_way = 0  # announced appends not yet made (a service test checks it ends at 0)

    def announce(self) -> None:
        self.on_their_way += 1

    def withdraw(self) -> None:
        self._arrive()

    def _arrive(self) -> None:
        if self.on_their_way == 0:
            raise AssertionError("an append or withdrawal that no announcement promised")
        self.on_their_way -= 1

    async def append(self, record: AuditRecord, *, announced: bool = False) -> int:
        if announced:
            self._arrive()
        if self.unreachable:
            raise StoreUnavailable()
        self.entries.append(record.canonical())
        return len(self.entries)

    async def append_many(
        self, records: list[AuditRecord], *, announced: bool = False
    ) -> list[int]:
        if announced:
            self._arrive()
        return [await self.append(record) for record in records]

    async def read(self, start: int = 0, limit: int = 1000) -> list[tuple[int, bytes]]:
        first = max(start, 1)
        return [
            (seq, self.entries[seq - 1])
            for seq in range(first, min(first + limit, len(self.entries) + 1))
        ]

    async def count(self) -> int:
        return len(self.entries)

    def records(self) -> list[AuditRecord]:
        """Every record appended, in order (what a service test checks)."""
        return [AuditRecord.from_canonical(entry) for entry in self.entries]
