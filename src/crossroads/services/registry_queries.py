"""The registry's read side: what the admin API and the discovery services list and show.

Routes ask this query service rather than the store, so that a read, like a write, goes through
a use case (the writes are in registry.py, validated and audited). Reads are not audited: the
registry is the hub's public configuration, and the admin API is the operator's.
"""

from __future__ import annotations

from typing import TypeVar

from ..domain.errors import Refusal
from ..domain.mutations import MutationType
from ..domain.registry import (
    Application,
    Authorization,
    Capacity,
    Institution,
    IntegrationRight,
    RoutedProvider,
    Service,
)
from .ports import MutationStore, RegistryRepository

T = TypeVar("T")


def _found(item: T | None, what: str) -> T:
    if item is None:
        raise Refusal("not_found", f"no {what} is registered.")
    return item


class RegistryQueries:
    def __init__(self, registry: RegistryRepository, mutations: MutationStore) -> None:
        self._registry = registry
        self._mutations = mutations

    async def institutions(self) -> list[Institution]:
        return await self._registry.list_institutions()

    async def find_institution(self, enterprise_number: str) -> Institution | None:
        return await self._registry.get_institution(enterprise_number)

    async def institution(self, enterprise_number: str) -> Institution:
        return _found(
            await self._registry.get_institution(enterprise_number),
            f"institution {enterprise_number}",
        )

    async def applications(self, institution: str | None = None) -> list[Application]:
        return await self._registry.list_applications(institution)

    async def application(self, institution: str, code: str) -> Application:
        return _found(
            await self._registry.get_application(institution, code),
            f"application {institution}:{code}",
        )

    async def counts(self) -> dict[str, int]:
        """{"members", "applications", "services", "authorizations"}: how many of each."""
        return await self._registry.counts()

    async def capacities(self) -> list[Capacity]:
        return await self._registry.list_capacities()

    async def capacity(self, code: str) -> Capacity:
        return _found(
            next((c for c in await self._registry.list_capacities() if c.code == code), None),
            f"capacity {code}",
        )

    async def services(self, provider: str | None = None) -> list[Service]:
        found = await self._registry.list_services()
        return found if provider is None else [s for s in found if s.provider == provider]

    async def service(self, code: str, version: str) -> Service:
        found = next(
            (
                s
                for s in await self._registry.list_services()
                if s.code == code and s.version == version
            ),
            None,
        )
        return _found(found, f"service {code} version {version}")

    async def authorizations(
        self, consumer: str | None = None, service: str | None = None
    ) -> list[Authorization]:
        return await self._registry.find_authorizations(consumer=consumer, service=service)

    async def authorization(self, reference: str) -> Authorization:
        return _found(
            await self._registry.get_authorization(reference), f"authorization {reference}"
        )

    async def integration_rights(self, institution: str | None = None) -> list[IntegrationRight]:
        return await self._registry.list_integration_rights(institution)

    async def integration_right(self, institution: str, capacity: str) -> IntegrationRight:
        found = next(
            (
                r
                for r in await self._registry.list_integration_rights(institution)
                if r.capacity == capacity
            ),
            None,
        )
        return _found(found, f"integration right of {institution} in {capacity}")

    async def routed_providers(self, service: str | None = None) -> list[RoutedProvider]:
        return await self._registry.list_routed_providers(service)

    async def routed_provider(self, service: str, institution: str) -> RoutedProvider:
        found = next(
            (
                p
                for p in await self._registry.list_routed_providers(service)
                if p.institution == institution
            ),
            None,
        )
        return _found(found, f"provider {institution} of {service}")

    async def mutation_types(self) -> list[MutationType]:
        return await self._mutations.list_types()

    async def mutation_type(self, code: str, version: str) -> MutationType:
        found = next(
            (
                t
                for t in await self._mutations.list_types()
                if t.code == code and t.version == version
            ),
            None,
        )
        return _found(found, f"mutation type {code} version {version}")
