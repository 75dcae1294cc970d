"""The reference directory's port: who holds which person in which capacity, and the changes
(integrate, end, remove) that the directory use cases apply to it."""

from __future__ import annotations

import abc

# A change is a domain value (domain.directory applies it), named here too as the port takes it.
from ...domain.directory import Holding, Integration, IntegrationChange

__all__ = ["DirectoryRepository", "IntegrationChange"]


class DirectoryRepository(abc.ABC):
    @abc.abstractmethod
    async def apply(self, changes: list[IntegrationChange]) -> list[int]:
        """Apply the changes in order, atomically, each as `domain.directory.periods_after`
        says; return the positions (in `changes`) of the ends and removals that found no
        period at all of their person, institution and capacity (they changed nothing)."""

    @abc.abstractmethod
    async def held_by(self, subject_key: bytes, institution: str) -> list[Integration]: ...

    @abc.abstractmethod
    async def holders(
        self, subject_key: bytes, capacity: str | None = None
    ) -> list[Integration]: ...

    @abc.abstractmethod
    async def holders_of(self, subject_keys: list[bytes]) -> dict[bytes, list[Holding]]:
        """`holders` of many persons at once (a batch of mutations), each as a `Holding`, in no
        particular order; persons nobody holds are absent."""

    @abc.abstractmethod
    async def count(self) -> int: ...
