"""The reference directory in memory (DirectoryRepository), changed by the domain's own rule
(domain.directory.periods_after), as the SQL directory is."""

from __future__ import annotations

from crossroads.domain.directory import Holding, Integration, IntegrationChange, periods_after
from crossroads.services.ports import DirectoryRepository

Key = tuple[bytes, str, str]  # (subject key, institution, capacity)


class MemoryDirectory(DirectoryRepository):
    def __init__(self) -> None:
        self.periods: dict[Key, set] = {}

    async def apply(self, changes: list[IntegrationChange]) -> list[int]:
        changed, unheld = {}, []
        for position, change in enumerate(changes):  # all or nothing: stored at the end
            key = (change.subject_key, change.institution, change.capacity)
            current = changed.get(key, self.periods.get(key, set()))
            if change.op != "integrate" and not current:
                unheld.append(position)
            changed[key] = periods_after(set(current), change)
        for key, periods in changed.items():
            if periods:
                self.periods[key] = periods
            else:
                self.periods.pop(key, None)
        return unheld

    def _integrations(self, keys) -> list[Integration]:
        found = [
            Integration(subject, institution, capacity, phase, period)
            for subject, institution, capacity in keys
            for phase, period in self.periods[(subject, institution, capacity)]
        ]
        return sorted(found, key=lambda i: (i.institution, i.capacity, i.period.start))

    async def held_by(self, subject_key: bytes, institution: str) -> list[Integration]:
        return self._integrations(
            k for k in self.periods if k[0] == subject_key and k[1] == institution
        )

    async def holders(self, subject_key: bytes, capacity: str | None = None) -> list[Integration]:
        return self._integrations(
            k
            for k in self.periods
            if k[0] == subject_key and (capacity is None or k[2] == capacity)
        )

    async def holders_of(self, subject_keys: list[bytes]) -> dict[bytes, list[Holding]]:
        found = {key: await self.holders(key) for key in dict.fromkeys(subject_keys)}
        return {key: [Holding.of(i) for i in held] for key, held in found.items() if held}

    async def count(self) -> int:
        return sum(len(periods) for periods in self.periods.values())
