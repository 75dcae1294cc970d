"""The operators' port: operators and service accounts with their roles, and four-eyes
proposals waiting for a second operator."""

from __future__ import annotations

import abc

from ...domain.operators import Operator
from ...domain.proposals import Proposal
from .conditional import Expected


class OperatorRepository(abc.ABC):
    @abc.abstractmethod
    async def put_operator(
        self, operator: Operator, expected: Expected[Operator] | None = None
    ) -> bool:
        """Insert or replace; True when it was new. A new credential epoch is drawn when the
        operator is new, put inactive, or given other keys (its access tokens are then refused).
        With `expected`, as `RegistryRepository.put_institution`."""

    @abc.abstractmethod
    async def get_operator(self, operator_id: str) -> Operator | None:
        """Read from the store on every call, never cached: a role withdrawn through any hub
        process counts in every other at once."""

    @abc.abstractmethod
    async def list_operators(self) -> list[Operator]: ...

    @abc.abstractmethod
    async def delete_operator(self, operator_id: str) -> bool: ...

    @abc.abstractmethod
    async def operator_epoch(self, operator_id: str) -> str | None:
        """The operator's credential epoch while it is registered and active, else None."""

    @abc.abstractmethod
    async def add_proposal(self, proposal: Proposal) -> None: ...

    @abc.abstractmethod
    async def get_proposal(self, proposal_id: str) -> Proposal | None: ...

    @abc.abstractmethod
    async def list_proposals(self, state: str | None = None) -> list[Proposal]:
        """Oldest first; of one state when given."""

    @abc.abstractmethod
    async def decide_proposal(self, proposal: Proposal) -> bool:
        """Record the decision (state, decided_by, decided_at_ms, reason) of a proposal still
        pending; False when it was decided meanwhile (by another operator, in another process)."""

    @abc.abstractmethod
    async def reopen_proposal(self, proposal: Proposal) -> bool:
        """Make an approved proposal pending again (no decider, no decision time, no reason):
        its approval could not be applied. Only the approval `proposal` records (its
        `decided_by`, still approved); False otherwise."""
