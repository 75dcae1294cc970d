"""The registry in memory (RegistryRepository)."""

from __future__ import annotations

import secrets

from crossroads.domain.errors import Refusal
from crossroads.domain.registry import (
    Application,
    Authorization,
    Capacity,
    Institution,
    IntegrationRight,
    RoutedProvider,
    Service,
)
from crossroads.domain.versions import version_key
from crossroads.services.ports import ChangedMeanwhile, Expected, RegistryRepository


def _put(table: dict, key, value, expected: Expected | None = None) -> bool:
    if expected is not None and table.get(key) != expected.entry:
        raise ChangedMeanwhile(f"{key} changed meanwhile.")
    created = key not in table
    table[key] = value
    return created


class MemoryRegistry(RegistryRepository):
    def __init__(self) -> None:
        self.institutions: dict[str, Institution] = {}
        self.applications: dict[tuple[str, str], Application] = {}
        self.epochs: dict[tuple[str, str], str] = {}
        self.capacities: dict[str, Capacity] = {}
        self.services: dict[tuple[str, str], Service] = {}
        self.authorizations: dict[str, Authorization] = {}
        self.rights: dict[tuple[str, str], IntegrationRight] = {}
        self.routed: dict[tuple[str, str], RoutedProvider] = {}

    async def put_institution(
        self, institution: Institution, expected: Expected[Institution] | None = None
    ) -> bool:
        return _put(self.institutions, institution.enterprise_number, institution, expected)

    async def get_institution(self, enterprise_number: str) -> Institution | None:
        return self.institutions.get(enterprise_number)

    async def list_institutions(self) -> list[Institution]:
        return [self.institutions[k] for k in sorted(self.institutions)]

    async def put_application(
        self, application: Application, expected: Expected[Application] | None = None
    ) -> bool:
        key = (application.institution, application.code)
        if expected is not None and self.applications.get(key) != expected.entry:
            raise ChangedMeanwhile(f"{key} changed meanwhile.")
        if key not in self.applications or not application.active:
            self.epochs[key] = secrets.token_hex(8)  # the tokens of the old epoch are refused
        return _put(self.applications, key, application)

    async def get_application(self, institution: str, code: str) -> Application | None:
        return self.applications.get((institution, code))

    async def list_applications(self, institution: str | None = None) -> list[Application]:
        return [
            self.applications[k]
            for k in sorted(self.applications)
            if institution is None or k[0] == institution
        ]

    async def credential_epoch(self, institution: str, code: str) -> str | None:
        application = self.applications.get((institution, code))
        return self.epochs[(institution, code)] if application and application.active else None

    async def put_capacity(self, capacity: Capacity) -> bool:
        return _put(self.capacities, capacity.code, capacity)

    async def list_capacities(self) -> list[Capacity]:
        return [self.capacities[k] for k in sorted(self.capacities)]

    async def put_service(
        self, service: Service, expected: Expected[Service] | None = None
    ) -> bool:
        key = (service.code, service.version)
        if expected is not None:
            now = self.services.get(key) or await self.get_service(service.code)
            if now != expected.entry:
                raise ChangedMeanwhile(f"{key} changed meanwhile.")
        return _put(self.services, key, service)

    async def get_service(self, code: str, version: str | None = None) -> Service | None:
        if version is not None:
            return self.services.get((code, version))
        versions = [v for c, v in self.services if c == code]
        return self.services[(code, max(versions, key=version_key))] if versions else None

    async def list_services(self) -> list[Service]:
        return [self.services[k] for k in sorted(self.services)]

    async def put_authorization(self, authorization: Authorization) -> bool:
        return _put(self.authorizations, authorization.reference, authorization)

    async def get_authorization(self, reference: str) -> Authorization | None:
        return self.authorizations.get(reference)

    async def find_authorizations(
        self, consumer: str | None = None, service: str | None = None, purpose: str | None = None
    ) -> list[Authorization]:
        return [
            a
            for _, a in sorted(self.authorizations.items())
            if (not consumer or a.consumer == consumer)
            and (not service or a.service == service)
            and (not purpose or a.purpose == purpose)
        ]

    async def put_integration_right(self, right: IntegrationRight) -> bool:
        return _put(self.rights, (right.institution, right.capacity), right)

    async def list_integration_rights(
        self, institution: str | None = None
    ) -> list[IntegrationRight]:
        return [
            self.rights[k]
            for k in sorted(self.rights)
            if institution is None or k[0] == institution
        ]

    async def put_routed_provider(self, provider: RoutedProvider) -> bool:
        return _put(self.routed, (provider.service, provider.institution), provider)

    async def list_routed_providers(self, service: str | None = None) -> list[RoutedProvider]:
        return [self.routed[k] for k in sorted(self.routed) if service is None or k[0] == service]

    def _referenced(self, kind: str, key: tuple[str, ...]) -> bool:
        """What the SQL schema's foreign keys (without ON DELETE CASCADE) refuse to orphan."""
        if kind == "institution":
            number = key[0]
            return any(s.provider == number for s in self.services.values()) or any(
                a.consumer == number for a in self.authorizations.values()
            )
        if kind == "capacity":
            code = key[0]
            return any(s.routed_capacity == code for s in self.services.values()) or any(
                c == code for _, c in self.rights
            )
        return False

    async def delete(self, kind: str, key: tuple[str, ...]) -> bool:
        tables = {
            "institution": self.institutions,
            "application": self.applications,
            "capacity": self.capacities,
            "service": self.services,
            "authorization": self.authorizations,
            "integration_right": self.rights,
            "routed_provider": self.routed,
        }
        table = tables[kind]
        lookup = key[0] if len(key) == 1 else tuple(key)
        if lookup not in table:
            return False
        if self._referenced(kind, key):
            raise Refusal(
                "conflict",
                f"{kind} {'/'.join(key)} is still referenced; remove what names it first.",
            )
        del table[lookup]
        if kind == "institution":  # its applications, rights and routes go with it (CASCADE)
            for other in (self.applications, self.rights, self.routed):
                for k in [k for k in other if (k[1] if other is self.routed else k[0]) == key[0]]:
                    del other[k]
        return True
