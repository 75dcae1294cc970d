"""What a registry change must agree with in the rest of the registry: an authorization names a
known consumer, service (or mutation type) and capacities, and allows only fields the service
returns; an integration right names a known institution and capacity; a member's addresses are
http(s) and its peer is pinned; an application belongs to a known institution and has public
keys. Used by the registry's use cases (services/registry.py) and, before a change is proposed
and again before it is approved, by four eyes (services/four_eyes.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from ..domain.errors import Refusal
from ..domain.federation import check_instance
from ..domain.identifier_links import IDENTIFIERS_FIELDS, IDENTIFIERS_SERVICE
from ..domain.identifiers import IdentifierScheme
from ..domain.mutations import PEER_APPLICATION_PREFIX
from ..domain.public_keys import check_public_jwks
from ..domain.registry import (
    INTEGRATION_LEGAL_BASIS_LENGTH,
    Application,
    Authorization,
    Institution,
    IntegrationRight,
    Service,
    check_code,
)
from ..domain.statistics.marts import MARTS
from ..domain.webhooks import check_webhook_base
from .ports import MutationStore, RegistryRepository

HOLDERS_SERVICE = "directory.holders"
HOLDERS_NAME = "Who holds a file on the person (the reference directory)"
HOLDERS_FIELDS = ("institution", "capacity", "phase", "start", "end")
# The analyst's capability (issue 20): an authorization for this built-in service lets the
# consumer's applications ask the statistics warehouse for aggregates, for the authorization's
# purpose (the project) and legal basis, of the marts it lists as allowed fields. Persons are not
# looked up, so no capacity is required.
STATISTICS_SERVICE = "statistics.aggregates"


class RegistryChecks:
    def __init__(
        self,
        registry: RegistryRepository,
        scheme: IdentifierScheme,
        mutation_types: MutationStore | None = None,
        pinned: Callable[[], Collection[str]] | None = None,
    ) -> None:
        self._registry = registry
        self._pinned = pinned
        self._scheme = scheme
        self._mutation_types = mutation_types

    async def institution(self, institution: Institution) -> Institution:
        """The member as it would be recorded (normalised), or the refusal it meets."""
        number = self._scheme.normalise_member(institution.enterprise_number, "enterprise_number")
        if institution.base_url is not None and not institution.base_url.startswith(
            ("http://", "https://")
        ):
            raise Refusal("malformed_request", "base_url must be an http(s) URL.", "base_url")
        for i, base in enumerate(institution.webhook_bases):
            check_webhook_base(base, f"webhook_bases[{i}]")
        if institution.peer is not None:
            # A peer's requests are answered only for its members recorded here: record them
            # only for a peer this hub pins, so a typo cannot leave one answerable later.
            check_instance(institution.peer)
            if self._pinned is not None and institution.peer not in self._pinned():
                raise Refusal(
                    "unknown_peer",
                    f"no peer hub {institution.peer!r} is pinned here: pin it first "
                    "(crossroads federation pin).",
                    "peer",
                )
        return replace(
            institution, enterprise_number=number, webhook_bases=tuple(institution.webhook_bases)
        )

    async def application(self, application: Application) -> Application:
        """The application as it would be recorded (normalised), or the refusal it meets."""
        number = self._scheme.normalise_enterprise(application.institution, "institution")
        check_code(application.code, "code")
        if application.code.startswith(PEER_APPLICATION_PREFIX):
            # A peer hub's member subscribes under `peer.<instance>`: a registered application
            # with such a code would be taken for one (services/mutations.py).
            raise Refusal(
                "malformed_request",
                f"application codes starting with {PEER_APPLICATION_PREFIX!r} are reserved for "
                "peer hubs' members.",
                "code",
            )
        if await self._registry.get_institution(number) is None:
            raise Refusal("not_found", f"no institution {number} is registered.", "institution")
        check_public_jwks(application.jwks)
        return Application(
            number, application.code, application.name, application.jwks, application.active
        )

    async def service(self, service: Service) -> Service:
        """The service as it would be recorded (normalised), or the refusal it meets."""
        check_code(service.code, "code")
        check_code(service.version, "version")
        if service.code in (HOLDERS_SERVICE, IDENTIFIERS_SERVICE):
            raise Refusal("conflict", f"{service.code} is built into the hub.", "code")
        if service.provider is not None:
            provider = self._scheme.normalise_enterprise(service.provider, "provider")
            if await self._registry.get_institution(provider) is None:
                raise Refusal("not_found", f"no institution {provider} is registered.", "provider")
            service = replace(service, provider=provider)
        if (
            service.routed_capacity is not None
            and service.routed_capacity not in await self.capacity_codes()
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
        return service

    async def authorization(self, authorization: Authorization) -> Authorization:
        """The authorization as it would be recorded (normalised), or the refusal it meets."""
        consumer = self._scheme.normalise_member(authorization.consumer, "consumer")
        if await self._registry.get_institution(consumer) is None:
            raise Refusal("not_found", f"no institution {consumer} is registered.", "consumer")
        if authorization.service == HOLDERS_SERVICE:
            known_fields = set(HOLDERS_FIELDS)
        elif authorization.service == IDENTIFIERS_SERVICE:
            known_fields = set(IDENTIFIERS_FIELDS)
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
        missing = set(authorization.required_capacities) - await self.capacity_codes()
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
        return replace(authorization, consumer=consumer)

    async def integration_right(self, right: IntegrationRight) -> IntegrationRight:
        """The right as it would be recorded (normalised), or the refusal it meets."""
        number = self._scheme.normalise_member(right.institution, "institution")
        if await self._registry.get_institution(number) is None:
            raise Refusal("not_found", f"no institution {number} is registered.", "institution")
        if right.capacity not in await self.capacity_codes():
            raise Refusal("not_found", f"no capacity {right.capacity} is registered.", "capacity")
        if (
            not isinstance(right.legal_basis, str)
            or len(right.legal_basis) > INTEGRATION_LEGAL_BASIS_LENGTH
        ):
            raise Refusal(
                "malformed_request",
                f"legal_basis is a text of at most {INTEGRATION_LEGAL_BASIS_LENGTH} characters.",
                "legal_basis",
            )
        return replace(right, institution=number)

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

    async def capacity_codes(self) -> set[str]:
        return {c.code for c in await self._registry.list_capacities()}


def _is_within(path: str, fields: set[str]) -> bool:
    """`address.street` is within a service that returns `address` (or `address.street`)."""
    parts = path.split(".")
    return any(".".join(parts[: i + 1]) in fields for i in range(len(parts)))
