"""The rights engine's ports: the rules (OpenFisca behind them) and the store of decisions."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ...domain.mutations import Mutation
from ...domain.rights import Competence, Decision, RuleOutcome, Situation

# A mutation, its digest, and its deliveries (subscription id, message), as the outbox takes them.
Publication = tuple[Mutation, bytes, list[tuple[str, bytes]]]


@dataclass(frozen=True)
class Population:
    """A whole population as columns, for the non-take-up scan: one row per person, households
    by index. Arrays (numpy's, in the adapter) rather than lists of objects: a million persons
    are decided in one vectorised calculation."""

    household: Any  # each person's household index, 0..households-1
    child: Any
    integration_income: Any
    income_guarantee_elderly: Any
    disability_allowance: Any
    household_income: Any  # one per household


class Rules(abc.ABC):
    """Eligibility rules as code, with their version and legal bases."""

    version: str

    @abc.abstractmethod
    def rights(self) -> list[dict[str, Any]]:
        """Each right the rules decide: code, name, variable, legal bases, parameters."""

    @abc.abstractmethod
    def decide(self, situations: Sequence[Situation], month: date) -> list[list[RuleOutcome]]:
        """For each situation, every right's outcome for its first member, in one calculation."""

    @abc.abstractmethod
    def scan(self, population: Population, month: date) -> dict[str, Any]:
        """Every person's outcome per right (right code -> array of granted flags)."""


class RightsRepository(abc.ABC):
    """The engine's decisions, newest last per person and right."""

    @abc.abstractmethod
    async def add(
        self,
        decisions: Sequence[Decision],
        subject_key: bytes,
        publications: list[Publication] | None = None,
    ) -> list[bytes | None]:
        """Store the decisions of one evaluation about one person, together, and with them in the
        same transaction `publications`: the mutations that announce them and their deliveries,
        as `MutationStore.publish_many` stores them, whose outcomes are returned. A decision is
        thus stored with its announcement or not at all. A decision already stored (the same id)
        is left as it is."""

    @abc.abstractmethod
    async def get(self, decision_id: str) -> Decision | None: ...

    @abc.abstractmethod
    async def latest(self, subject_key: bytes) -> dict[str, Decision]:
        """The latest decision of each right about the person."""

    @abc.abstractmethod
    async def of_person(self, subject_key: bytes) -> list[Decision]:
        """Every decision about the person, oldest first."""

    @abc.abstractmethod
    async def answer(self, decision: Decision) -> bool:
        """Record a pending decision's answer; False when it was answered meanwhile."""

    @abc.abstractmethod
    async def of_institution(
        self, institution: str, status: str | None, limit: int
    ) -> list[Decision]:
        """The decisions the institution is competent for, newest first."""

    @abc.abstractmethod
    async def recent(self, limit: int) -> list[Decision]:
        """Every institution's decisions, newest first (the operator's view)."""

    @abc.abstractmethod
    async def holders(self, right: str) -> set[bytes]:
        """The keys of the persons whose latest decision of `right` grants it (not refused)."""


class CompetenceRepository(abc.ABC):
    """The registry's competent institution per right (`Competence`), one entry per right."""

    @abc.abstractmethod
    async def get_competence(self, right: str) -> Competence | None: ...

    @abc.abstractmethod
    async def list_competences(self) -> list[Competence]:
        """Every entry, by right code."""

    @abc.abstractmethod
    async def put_competence(self, competence: Competence) -> bool:
        """Record (or replace) the right's entry; True when the right had none."""

    @abc.abstractmethod
    async def delete_competence(self, right: str) -> bool:
        """Remove the right's entry; False when it had none."""


@dataclass(frozen=True)
class Extract:
    """A pseudonymised extract of the whole population for the non-take-up scan: the facts the
    rules read, who already receives each right, and a pseudonym per person (never an
    identifier)."""

    pseudonyms: Sequence[str]  # "" for a household member who is not examined
    population: Population
    receives: dict[str, Any]  # right code -> array of flags: already receives it


class ExtractSource(abc.ABC):
    """Where the extract comes from, and the one way back from a pseudonym to a person: used
    only for the persons the scan found, so that the engine decides about them like any other
    (their facts read again, under its authorizations, audited)."""

    @abc.abstractmethod
    async def extract(self) -> Extract: ...

    @abc.abstractmethod
    async def reidentify(self, pseudonyms: Sequence[str]) -> dict[str, str]:
        """pseudonym -> identifier, for the pseudonyms given."""
