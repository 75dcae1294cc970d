"""The registry's port: institutions, applications, capacities, services, authorizations,
integration rights and routed providers, as the registry use cases read and change them."""

from __future__ import annotations

import abc

from ...domain.registry import (
    Application,
    Authorization,
    Capacity,
    Institution,
    IntegrationRight,
    RoutedProvider,
    Service,
)
from .conditional import Expected


class RegistryRepository(abc.ABC):
    @abc.abstractmethod
    async def put_institution(
        self, institution: Institution, expected: Expected[Institution] | None = None
    ) -> bool:
        """Insert or replace; True when it was new. With `expected`, only if the stored entry
        is that one, checked in the write's transaction; else `ChangedMeanwhile` and nothing is
        written (the same for applications; for services, see `put_service`)."""

    @abc.abstractmethod
    async def get_institution(self, enterprise_number: str) -> Institution | None: ...

    @abc.abstractmethod
    async def list_institutions(self) -> list[Institution]: ...

    @abc.abstractmethod
    async def put_application(
        self, application: Application, expected: Expected[Application] | None = None
    ) -> bool: ...

    @abc.abstractmethod
    async def get_application(self, institution: str, code: str) -> Application | None: ...

    @abc.abstractmethod
    async def list_applications(self, institution: str | None = None) -> list[Application]: ...

    @abc.abstractmethod
    async def credential_epoch(self, institution: str, code: str) -> str | None:
        """The application's credential epoch while it is registered and active, else None.

        Read from the store on every call, never from a cache, so that disabling or deleting an
        application through any hub process counts in every other at once. `put_application`
        draws a new epoch for a new application and for one put inactive: access tokens carry
        the epoch they were issued under, and a token whose epoch is no longer current is
        refused (re-enabling an application does not revive the tokens it had before)."""

    @abc.abstractmethod
    async def put_capacity(self, capacity: Capacity) -> bool: ...

    @abc.abstractmethod
    async def list_capacities(self) -> list[Capacity]: ...

    @abc.abstractmethod
    async def put_service(
        self, service: Service, expected: Expected[Service] | None = None
    ) -> bool:
        """Insert or replace; True when it was new. With `expected`, only if the version is
        still that one, or, for a version not recorded yet, only if the code's highest version
        is still that one (what a new version was compared with: it takes the code's requests)
        and the version is still not recorded; else `ChangedMeanwhile`."""

    @abc.abstractmethod
    async def get_service(self, code: str, version: str | None = None) -> Service | None:
        """The named version, or the highest version (in `domain.versions`' order) when
        `version` is None."""

    @abc.abstractmethod
    async def list_services(self) -> list[Service]: ...

    @abc.abstractmethod
    async def put_authorization(self, authorization: Authorization) -> bool: ...

    @abc.abstractmethod
    async def get_authorization(self, reference: str) -> Authorization | None: ...

    @abc.abstractmethod
    async def find_authorizations(
        self, consumer: str | None = None, service: str | None = None, purpose: str | None = None
    ) -> list[Authorization]: ...

    @abc.abstractmethod
    async def put_integration_right(self, right: IntegrationRight) -> bool: ...

    @abc.abstractmethod
    async def list_integration_rights(
        self, institution: str | None = None
    ) -> list[IntegrationRight]: ...

    @abc.abstractmethod
    async def put_routed_provider(self, provider: RoutedProvider) -> bool: ...

    @abc.abstractmethod
    async def list_routed_providers(self, service: str | None = None) -> list[RoutedProvider]: ...

    @abc.abstractmethod
    async def delete(self, kind: str, key: tuple[str, ...]) -> bool:
        """Delete an institution, application, capacity, service, authorization, integration right
        (institution, capacity) or routed provider (service, institution) by its key."""

    # Optional to override: a store that counts without reading the rows (SqlRegistry does).
    async def counts(self) -> dict[str, int]:
        """How many members, applications, services and authorizations the registry holds."""
        return {
            "members": len(await self.list_institutions()),
            "applications": len(await self.list_applications()),
            "services": len(await self.list_services()),
            "authorizations": len(await self.find_authorizations()),
        }
