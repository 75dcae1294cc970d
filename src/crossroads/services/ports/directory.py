"""The reference directory's port: who holds which person in which capacity, and the changes
(integrate, end, remove) that the directory use cases apply to it."""

from __future__ import annotations

import abc
from datetime import date
from typing import NamedTuple

from ...domain.directory import Integration, Phase
from ...domain.periods import Period


class IntegrationChange(NamedTuple):
    """One line of a directory update: integrate (merge), end, or remove a period.

    A named tuple rather than a dataclass: a bulk load makes millions, and passes them between
    processes (see `directory_lines`), where a tuple is several times cheaper to build and pickle.
    """

    op: str  # "integrate" | "end" | "remove"
    subject_key: bytes
    institution: str
    capacity: str
    phase: Phase = Phase.DEFINITIVE
    period: Period | None = None  # integrate/remove: the period; None removes all
    end: date | None = None  # end: the last day


class DirectoryRepository(abc.ABC):
    @abc.abstractmethod
    async def apply(self, changes: list[IntegrationChange]) -> None:
        """Apply the changes in order, atomically, merging periods as `domain.periods` says."""

    @abc.abstractmethod
    async def held_by(self, subject_key: bytes, institution: str) -> list[Integration]: ...

    @abc.abstractmethod
    async def holders(
        self, subject_key: bytes, capacity: str | None = None
    ) -> list[Integration]: ...

    @abc.abstractmethod
    async def holders_of(self, subject_keys: list[bytes]) -> dict[bytes, list[Integration]]:
        """`holders` of many persons at once (a batch of mutations); persons nobody holds are
        absent."""

    @abc.abstractmethod
    async def count(self) -> int: ...
