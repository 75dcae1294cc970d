"""Registry administration: every change is validated against the rest of the registry and audited.

The operator manages members, applications, capacities, services and authorizations. Each use
case checks references (an authorization names a known consumer, service and capacities; the
fields it allows are fields the service returns) so that a bad registry entry fails here, at
administration time, rather than in the middle of an exchange.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

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
from ..domain.statistics.marts import MARTS
from ..domain.webhooks import check_webhook_base
from .clock import Clock
from .ports import AuditLog, MutationStore, RegistryRepository
from .registry_cache import RegistryCache

HOLDERS_SERVICE = "directory.holders"
HOLDERS_NAME = "Who holds a file on the person (the reference directory)"
HOLDERS_FIELDS = ("institution", "capacity", "phase", "start", "end")
# The analyst's capability (issue 20): an authorization for this built-in service lets the
# consumer's applications ask the statistics warehouse for aggregates, for the authorization's
# purpose (the project) and legal basis, of the marts it lists as allowed fields. Persons are not
# looked up, so no capacity is required.
STATISTICS_SERVICE = "statistics.aggregates"
_PUBLIC_KEY_TYPES = {("OKP", "Ed25519"), ("EC", "P-256")}


class RegistryAdmin:
    def __init__(
        self,
        registry: RegistryRepository,
        audit: AuditLog,
        clock: Clock,
        scheme: IdentifierScheme,
        cache: RegistryCache | None = None,
        mutation_types: MutationStore | None = None,
    ) -> None:
        """`mutation_types`, when given, lets authorizations name a mutation type as their
        service."""
        self._registry = registry
        self._mutation_types = mutation_types
        self._cache = cache
        self._audit = audit
        self._clock = clock
        self._scheme = scheme

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
            )
        )

    async def put_institution(self, institution: Institution) -> tuple[Institution, bool]:
        number = self._scheme.normalise_enterprise(
            institution.enterprise_number, "enterprise_number"
        )
        if institution.base_url is not None and not institution.base_url.startswith(
            ("http://", "https://")
        ):
            raise Refusal("malformed_request", "base_url must be an http(s) URL.", "base_url")
        for i, base in enumerate(institution.webhook_bases):
            check_webhook_base(base, f"webhook_bases[{i}]")
        institution = replace(
            institution, enterprise_number=number, webhook_bases=tuple(institution.webhook_bases)
        )
        created = await self._registry.put_institution(institution)
        await self._record(
            "create" if created else "update", "institution", number, _plain(institution)
        )
        return institution, created

    async def put_application(self, application: Application) -> tuple[Application, bool]:
        number = self._scheme.normalise_enterprise(application.institution, "institution")
        check_code(application.code, "code")
        if await self._registry.get_institution(number) is None:
            raise Refusal("not_found", f"no institution {number} is registered.", "institution")
        _check_public_jwks(application.jwks)
        application = Application(
            number, application.code, application.name, application.jwks, application.active
        )
        created = await self._registry.put_application(application)
        await self._record(
            "create" if created else "update",
            "application",
            application.client_id,
            {
                "name": application.name,
                "active": application.active,
                "kids": [k.get("kid") for k in application.jwks["keys"]],
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

    async def put_service(self, service: Service) -> tuple[Service, bool]:
        check_code(service.code, "code")
        check_code(service.version, "version")
        if service.code == HOLDERS_SERVICE:
            raise Refusal("conflict", f"{HOLDERS_SERVICE} is built into the hub.", "code")
        if service.provider is not None:
            provider = self._scheme.normalise_enterprise(service.provider, "provider")
            if await self._registry.get_institution(provider) is None:
                raise Refusal("not_found", f"no institution {provider} is registered.", "provider")
            service = replace(service, provider=provider)
        if (
            service.routed_capacity is not None
            and service.routed_capacity not in await self._capacity_codes()
        ):
            raise Refusal(
                "not_found",
                f"no capacity {service.routed_capacity} is registered.",
                "routed_capacity",
            )
        for name in ("request_schema", "response_schema"):
            try:
                Draft202012Validator.check_schema(getattr(service, name))
            except SchemaError as exc:
                raise Refusal(
                    "malformed_request", f"{name} is not a valid JSON Schema: {exc.message}", name
                ) from None
        if not service.response_fields:
            raise Refusal(
                "malformed_request",
                "response_fields lists the fields the service may return.",
                "response_fields",
            )
        created = await self._registry.put_service(service)
        await self._record(
            "create" if created else "update",
            "service",
            f"{service.code}/{service.version}",
            {
                "provider": service.provider,
                "routed_capacity": service.routed_capacity,
                "response_fields": list(service.response_fields),
            },
        )
        return service, created

    async def put_authorization(self, authorization: Authorization) -> tuple[Authorization, bool]:
        consumer = self._scheme.normalise_enterprise(authorization.consumer, "consumer")
        if await self._registry.get_institution(consumer) is None:
            raise Refusal("not_found", f"no institution {consumer} is registered.", "consumer")
        if authorization.service == HOLDERS_SERVICE:
            known_fields = set(HOLDERS_FIELDS)
        elif authorization.service == STATISTICS_SERVICE:
            known_fields = set(MARTS)
        else:
            known_fields = await self._fields_of(authorization.service)
        unknown = [f for f in authorization.allowed_fields if not _is_within(f, known_fields)]
        if unknown:
            raise Refusal(
                "malformed_request",
                f"the service does not return {', '.join(unknown)}.",
                "allowed_fields",
            )
        missing = set(authorization.required_capacities) - await self._capacity_codes()
        if missing:
            raise Refusal(
                "not_found",
                f"no capacity {', '.join(sorted(missing))} is registered.",
                "required_capacities",
            )
        if not authorization.required_capacities and authorization.service != STATISTICS_SERVICE:
            raise Refusal(
                "malformed_request",
                "an authorization requires at least one capacity.",
                "required_capacities",
            )
        check_code(authorization.purpose, "purpose")
        authorization = replace(authorization, consumer=consumer)
        created = await self._registry.put_authorization(authorization)
        await self._record(
            "create" if created else "update",
            "authorization",
            authorization.reference,
            _plain(authorization),
        )
        return authorization, created

    async def put_integration_right(self, right: IntegrationRight) -> tuple[IntegrationRight, bool]:
        """Let an institution integrate persons in a capacity (audited, with its legal basis)."""
        number = self._scheme.normalise_enterprise(right.institution, "institution")
        if await self._registry.get_institution(number) is None:
            raise Refusal("not_found", f"no institution {number} is registered.", "institution")
        if right.capacity not in await self._capacity_codes():
            raise Refusal("not_found", f"no capacity {right.capacity} is registered.", "capacity")
        if not isinstance(right.legal_basis, str) or len(right.legal_basis) > 500:
            raise Refusal(
                "malformed_request",
                "legal_basis is a text of at most 500 characters.",
                "legal_basis",
            )
        right = replace(right, institution=number)
        created = await self._registry.put_integration_right(right)
        await self._record(
            "create" if created else "update",
            "integration_right",
            f"{number}/{right.capacity}",
            {"legal_basis": right.legal_basis},
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

    async def _fields_of(self, code: str) -> set[str]:
        """What an authorization for `code` may allow: a service's response fields, or a mutation
        type's payload fields (a subscription is authorized as an exchange is)."""
        service = await self._registry.get_service(code)
        if service is not None:
            return set(service.response_fields)
        mutation_type = (
            None if self._mutation_types is None else await self._mutation_types.get_type(code)
        )
        if mutation_type is not None:
            return set(mutation_type.fields)
        raise Refusal(
            "unknown_service", f"no service or mutation type {code} is registered.", "service"
        )

    async def delete(self, kind: str, key: tuple[str, ...]) -> None:
        if not await self._registry.delete(kind, key):
            raise Refusal("not_found", f"no {kind} {'/'.join(key)} is registered.")
        await self._record("delete", kind, "/".join(key))

    async def _capacity_codes(self) -> set[str]:
        return {c.code for c in await self._registry.list_capacities()}


def _is_within(path: str, fields: set[str]) -> bool:
    """`address.street` is within a service that returns `address` (or `address.street`)."""
    parts = path.split(".")
    return any(".".join(parts[: i + 1]) in fields for i in range(len(parts)))


def _check_public_jwks(jwks: Any) -> None:
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise Refusal("malformed_request", "jwks must be a JWK Set with at least one key.", "jwks")
    for i, key in enumerate(keys):
        if not isinstance(key, dict) or (key.get("kty"), key.get("crv")) not in _PUBLIC_KEY_TYPES:
            raise Refusal(
                "malformed_request",
                f"jwks.keys[{i}] must be an Ed25519 (OKP) or P-256 (EC) public key.",
                f"jwks.keys[{i}]",
            )
        if "d" in key:
            raise Refusal(
                "malformed_request",
                f"jwks.keys[{i}] contains a private key; register only the public part.",
                f"jwks.keys[{i}]",
            )


def _plain(obj: Any) -> dict[str, Any]:
    return {
        k: (v.isoformat() if hasattr(v, "isoformat") else list(v) if isinstance(v, tuple) else v)
        for k, v in asdict(obj).items()
        if k not in ("request_schema", "response_schema", "jwks")
    }
