"""Registry administration: every change is validated against the rest of the registry and audited.

The operator manages members, applications, capacities, services and authorizations. Each use
case checks references (an authorization names a known consumer, service and capacities; the
fields it allows are fields the service returns) so that a bad registry entry fails here, at
administration time, rather than in the middle of an exchange.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection
from dataclasses import asdict, replace
from typing import Any

from ..domain.audit import AuditRecord
from ..domain.errors import Refusal
from ..domain.identifiers import IdentifierScheme
from ..domain.registry import (
    Application,
    Authorization,
    Capacity,
    Institution,
    IntegrationRight,
    RoutedProvider,
    Service,
    check_code,
)
from .clock import Clock
from .ports import AuditLog, Expected, MutationStore, RegistryRepository
from .registry_cache import RegistryCache
from .registry_checks import RegistryChecks


class RegistryAdmin:
    """The registry's use cases. Each change is audited with its actor: the one this object was
    bound to with `by` (the admin API binds every request's operator); unbound, records name
    none."""

    def __init__(
        self,
        registry: RegistryRepository,
        audit: AuditLog,
        clock: Clock,
        scheme: IdentifierScheme,
        cache: RegistryCache | None = None,
        mutation_types: MutationStore | None = None,
        pinned: Callable[[], Collection[str]] | None = None,
    ) -> None:
        """`mutation_types`, when given, lets authorizations name a mutation type as their
        service; `pinned`, the instances of the peer hubs pinned here, which an institution's
        `peer` must name (unset: any instance code)."""
        self._registry = registry
        self._pinned = pinned
        self._mutation_types = mutation_types
        self._cache = cache
        self._audit = audit
        self._clock = clock
        self._scheme = scheme
        self._checks = RegistryChecks(registry, scheme, mutation_types, pinned)
        self._actor: str | None = None

    def by(self, actor: str) -> RegistryAdmin:
        """The same use cases, each change audited as made by `actor` (an operator's id)."""
        bound = copy.copy(self)
        bound._actor = actor
        return bound

    @property
    def actor(self) -> str | None:
        return self._actor

    async def _record(
        self, action: str, kind: str, target: str, detail: dict[str, Any] | None = None
    ) -> None:
        if self._cache is not None:
            self._cache.clear()
        await self._audit.append(
            AuditRecord(
                kind="registry",
                at_ms=self._clock.now_ms(),
                outcome="ok",
                action=f"{kind}.{action}",
                target=target,
                consumer=None,
                detail=detail or {},
                actor=self._actor,
            )
        )

    async def put_institution(
        self,
        institution: Institution,
        detail: dict[str, Any] | None = None,
        expected: Expected[Institution] | None = None,
    ) -> tuple[Institution, bool]:
        """Register or update a member; `detail` adds to its audit record (a four-eyes
        proposal's id and proposer). With `expected`, only if the member is still the one four
        eyes checked the change against (`RegistryRepository.put_institution`)."""
        institution = await self.check_institution(institution)
        created = await self._registry.put_institution(institution, expected)
        await self._record(
            "create" if created else "update",
            "institution",
            institution.enterprise_number,
            {**_plain(institution), **(detail or {})},
        )
        return institution, created

    async def record_peer(self, enterprise_number: str, peer: str | None) -> Institution:
        """Record a registered institution as a member of pinned peer `peer` (None: of this
        hub's own), nothing else changed; audited as the institution's update."""
        number = self._scheme.normalise_member(enterprise_number, "enterprise_number")
        found = await self._registry.get_institution(number)
        if found is None:
            raise Refusal("not_found", f"no institution {number} is registered.", "institution")
        institution, _ = await self.put_institution(replace(found, peer=peer))
        return institution

    async def put_application(
        self,
        application: Application,
        detail: dict[str, Any] | None = None,
        expected: Expected[Application] | None = None,
    ) -> tuple[Application, bool]:
        """Register or update an application and its keys; `detail` as for an institution."""
        application = await self.check_application(application)
        created = await self._registry.put_application(application, expected)
        await self._record(
            "create" if created else "update",
            "application",
            application.client_id,
            {
                "name": application.name,
                "active": application.active,
                "kids": [k.get("kid") for k in application.jwks["keys"]],
                **(detail or {}),
            },
        )
        return application, created

    async def put_capacity(self, capacity: Capacity) -> tuple[Capacity, bool]:
        check_code(capacity.code, "code")
        created = await self._registry.put_capacity(capacity)
        await self._record(
            "create" if created else "update", "capacity", capacity.code, _plain(capacity)
        )
        return capacity, created

    async def put_service(
        self,
        service: Service,
        detail: dict[str, Any] | None = None,
        expected: Expected[Service] | None = None,
    ) -> tuple[Service, bool]:
        """Register a service version; `detail` as for an institution."""
        service = await self.check_service(service)
        created = await self._registry.put_service(service, expected)
        await self._record(
            "create" if created else "update",
            "service",
            f"{service.code}/{service.version}",
            {
                "provider": service.provider,
                "routed_capacity": service.routed_capacity,
                "response_fields": list(service.response_fields),
                **(detail or {}),
            },
        )
        return service, created

    async def put_authorization(
        self, authorization: Authorization, detail: dict[str, Any] | None = None
    ) -> tuple[Authorization, bool]:
        """Record an authorization; `detail` adds to its audit record (a four-eyes proposal's
        id and proposer)."""
        authorization = await self.check_authorization(authorization)
        created = await self._registry.put_authorization(authorization)
        await self._record(
            "create" if created else "update",
            "authorization",
            authorization.reference,
            {**_plain(authorization), **(detail or {})},
        )
        return authorization, created

    async def put_integration_right(
        self, right: IntegrationRight, detail: dict[str, Any] | None = None
    ) -> tuple[IntegrationRight, bool]:
        """Let an institution integrate persons in a capacity (audited, with its legal basis)."""
        right = await self.check_integration_right(right)
        created = await self._registry.put_integration_right(right)
        await self._record(
            "create" if created else "update",
            "integration_right",
            f"{right.institution}/{right.capacity}",
            {
                "legal_basis": right.legal_basis,
                "legal_basis_translations": right.legal_basis_translations,
                **(detail or {}),
            },
        )
        return right, created

    async def put_routed_provider(self, provider: RoutedProvider) -> tuple[RoutedProvider, bool]:
        """Register an institution as a provider of a routed service, at its registered address.

        It must have an address (base_url) and the right to integrate in the service's capacity:
        the directory entries that route to it are then its own, written within its rights.
        """
        number = self._scheme.normalise_enterprise(provider.institution, "institution")
        institution = await self._registry.get_institution(number)
        if institution is None:
            raise Refusal("not_found", f"no institution {number} is registered.", "institution")
        service = await self._registry.get_service(provider.service)
        if service is None:
            raise Refusal(
                "unknown_service", f"no service {provider.service} is registered.", "service"
            )
        if service.routed_capacity is None:
            raise Refusal(
                "conflict",
                f"service {service.code} has a fixed provider; only routed services register "
                "providers.",
                "service",
            )
        if not institution.base_url:
            raise Refusal(
                "conflict",
                f"institution {number} has no registered address (base_url) to be sent "
                "requests at.",
                "institution",
            )
        rights = {r.capacity for r in await self._registry.list_integration_rights(number)}
        if service.routed_capacity not in rights:
            raise Refusal(
                "no_integration_right",
                f"institution {number} may not integrate persons as {service.routed_capacity}, "
                f"the capacity {service.code} is routed on.",
                "institution",
            )
        provider = replace(provider, institution=number)
        created = await self._registry.put_routed_provider(provider)
        await self._record(
            "create" if created else "update",
            "routed_provider",
            f"{service.code}/{number}",
            {"capacity": service.routed_capacity},
        )
        return provider, created

    async def delete(
        self, kind: str, key: tuple[str, ...], detail: dict[str, Any] | None = None
    ) -> None:
        if not await self._registry.delete(kind, key):
            raise Refusal("not_found", f"no {kind} {'/'.join(key)} is registered.")
        await self._record("delete", kind, "/".join(key), detail)

    async def check_institution(self, institution: Institution) -> Institution:
        """The member as it would be recorded (normalised), or the refusal it meets."""
        return await self._checks.institution(institution)

    async def check_application(self, application: Application) -> Application:
        """The application as it would be recorded (normalised), or the refusal it meets."""
        return await self._checks.application(application)

    async def check_service(self, service: Service) -> Service:
        """The service as it would be recorded (normalised), or the refusal it meets."""
        return await self._checks.service(service)

    async def service(self, code: str, version: str | None = None) -> Service | None:
        """The version as the store holds it now, or the code's highest (None: any)."""
        return await self._registry.get_service(code, version)

    async def institution(self, number: str) -> Institution | None:
        """The member as the store holds it now (not the cache): what four eyes compares."""
        return await self._registry.get_institution(number)

    async def application(self, institution: str, code: str) -> Application | None:
        return await self._registry.get_application(institution, code)

    async def check_authorization(self, authorization: Authorization) -> Authorization:
        """The authorization as it would be recorded (normalised), or the refusal it meets."""
        return await self._checks.authorization(authorization)

    async def check_integration_right(self, right: IntegrationRight) -> IntegrationRight:
        """The right as it would be recorded (normalised), or the refusal it meets."""
        return await self._checks.integration_right(right)

    async def _capacity_codes(self) -> set[str]:
        return await self._checks.capacity_codes()


def _plain(obj: Any) -> dict[str, Any]:
    return {
        k: (v.isoformat() if hasattr(v, "isoformat") else list(v) if isinstance(v, tuple) else v)
        for k, v in asdict(obj).items()
        if k not in ("request_schema", "response_schema", "jwks")
    }
