"""The competent institution of each right, held by the registry: the operator's use cases.

Which institution confirms a right's decisions is a registry entry (`Competence`): the holder of
the person in a capacity of the reference directory (a health fund for its insured) or one fixed
institution, with the law that assigns it. Each change is checked against the registry and the
rules (a right the rules decide, a registered capacity or institution) and audited like any
registry change (`kind` registry, `action` `rights_competence.create|update|delete`, with its
operator); with four eyes on it is a proposal first (services/four_eyes.py).

The engine reads the entry at each decision, from the store: a change or a removal holds for the
next decision in every hub process. A decision records the institution it went to, so a later
change never rewrites an earlier decision.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import Any

from ..domain.audit import AuditRecord
from ..domain.errors import Refusal
from ..domain.identifiers import IdentifierScheme
from ..domain.rights import Competence
from .clock import Clock
from .ports import AuditLog, CompetenceRepository, RegistryRepository


class CompetenceAdmin:
    """`rights` gives the codes of the rights the rules decide (read when checking, so that the
    rules' own catalogue is the only list of rights). Each change is audited with the actor this
    object was bound to with `by`."""

    def __init__(
        self,
        store: CompetenceRepository,
        registry: RegistryRepository,
        rights: Callable[[], Collection[str]],
        audit: AuditLog,
        clock: Clock,
        scheme: IdentifierScheme,
    ) -> None:
        self._store = store
        self._registry = registry
        self._rights = rights
        self._audit = audit
        self._clock = clock
        self._scheme = scheme
        self._actor: str | None = None

    def by(self, actor: str) -> CompetenceAdmin:
        bound = copy.copy(self)
        bound._actor = actor
        return bound

    async def get(self, right: str) -> Competence:
        found = await self._store.get_competence(right)
        if found is None:
            self._known(right)
            raise Refusal("not_found", f"the registry names no competent institution for {right}.")
        return found

    async def list(self) -> list[Competence]:
        return await self._store.list_competences()

    async def check(self, competence: Competence) -> Competence:
        """The entry as it would be recorded (its institution normalised), or the refusal it
        meets: an unknown right, capacity or institution."""
        self._known(competence.right)
        if competence.capacity is not None:
            codes = {c.code for c in await self._registry.list_capacities()}
            if competence.capacity not in codes:
                raise Refusal(
                    "not_found", f"no capacity {competence.capacity} is registered.", "capacity"
                )
            return competence
        number = self._scheme.normalise_enterprise(competence.institution or "", "institution")
        if await self._registry.get_institution(number) is None:
            raise Refusal("not_found", f"no institution {number} is registered.", "institution")
        return replace(competence, institution=number)

    async def put(
        self, competence: Competence, detail: dict[str, Any] | None = None
    ) -> tuple[Competence, bool]:
        """Record the right's competent institution (audited); `detail` adds to the audit record
        (a four-eyes proposal's id and proposer)."""
        competence = await self.check(competence)
        created = await self._store.put_competence(competence)
        await self._record(
            "create" if created else "update",
            competence.right,
            {
                "capacity": competence.capacity,
                "institution": competence.institution,
                "legal_basis": competence.legal_basis,
                **(detail or {}),
            },
        )
        return competence, created

    async def delete(self, right: str, detail: dict[str, Any] | None = None) -> None:
        """Remove the right's entry (audited): its next decisions go to no institution."""
        self._known(right)
        if not await self._store.delete_competence(right):
            raise Refusal("not_found", f"the registry names no competent institution for {right}.")
        await self._record("delete", right, detail or {})

    def _known(self, right: str) -> None:
        if right not in self._rights():
            raise Refusal("unknown_right", f"the rules decide no right {right[:100]!r}.", "right")

    async def _record(self, action: str, right: str, detail: dict[str, Any]) -> None:
        await self._audit.append(
            AuditRecord(
                kind="registry",
                at_ms=self._clock.now_ms(),
                outcome="ok",
                action=f"rights_competence.{action}",
                target=right,
                detail=detail,
                actor=self._actor,
            )
        )
