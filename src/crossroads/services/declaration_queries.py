"""The declarations' read side: the employers' register and the mandates for the admin API, and
what the declarations service answers as an authentic source (DIMONA periods, quarterly wages,
social risks). Routes read through here rather than from the store.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..domain.declarations.dimona import DimonaPeriod
from ..domain.declarations.employers import Employer, EmployerRef
from ..domain.declarations.records import Batch, Declaration, Mandate
from ..domain.errors import Refusal
from ..domain.identifiers import IdentifierScheme
from .ports import DeclarationStore


class DeclarationQueries:
    def __init__(self, store: DeclarationStore, scheme: IdentifierScheme) -> None:
        self._store = store
        self._scheme = scheme

    async def employers(self, after: str = "", limit: int = 100) -> list[Employer]:
        """A page of the employers' register by enterprise number, after `after`."""
        return await self._store.list_employers(after, limit)

    async def employer(self, company_id: str) -> Employer:
        number = self._scheme.normalise_enterprise(company_id, "company_id")
        found = await self._store.find_employer(EmployerRef(company_id=number))
        if found is None:
            raise Refusal("not_found", f"no employer {number} is registered.", "company_id")
        return found

    async def mandates(
        self,
        office: str | None = None,
        employer: str | None = None,
        after: tuple[str, str, date] | None = None,
        limit: int = 100,
    ) -> list[Mandate]:
        """A page of mandates by (office, employer, valid_from); of one office or employer when
        given."""
        office = None if office is None else self._scheme.normalise_enterprise(office, "office")
        employer = (
            None if employer is None else self._scheme.normalise_enterprise(employer, "employer")
        )
        return await self._store.list_mandates(office, employer, after, limit)

    async def declarations_of(
        self, institution: str, before: int | None = None, limit: int = 50
    ) -> list[Declaration]:
        """What an institution declared (through its software or the portal), newest first:
        what `declared_by` lets it read."""
        return await self._store.declarations_of(institution, before, limit)

    async def declarations_readable_by(
        self, organisation: str, before: int | None = None, limit: int = 50
    ) -> list[Declaration]:
        """What `readable_by` lets an organisation read, newest first, ids below `before`: what
        it sent, and what was made for it as an employer (by itself or by any payroll office,
        whatever its mandate's validity today). A payroll office's list holds what it sent, never
        another office's declarations for the same employer.

        Each of the two is a page walked along its own index; the newest `limit` of their union
        are among the newest `limit` of each, so one page of each is enough."""
        sent = await self._store.declarations_of(organisation, before, limit)
        made_for = await self._store.declarations_for(organisation, before, limit)
        merged = {d.id: d for d in [*sent, *made_for]}
        return [merged[i] for i in sorted(merged, key=lambda i: i or 0, reverse=True)][:limit]

    async def batches_of(self, institution: str, limit: int = 20) -> list[Batch]:
        return await self._store.batches_of(institution, limit)

    async def periods_of(self, inss: str) -> list[DimonaPeriod]:
        """The person's DIMONA periods that stand (cancelled ones are not answered)."""
        return [p for p in await self._store.periods_of(inss) if p.status != "cancelled"]

    async def wages_of(self, inss: str) -> list[dict[str, Any]]:
        return await self._store.wages_of(inss)

    async def social_risks_of(self, inss: str) -> list[Declaration]:
        return await self._store.social_risks_of(inss)
