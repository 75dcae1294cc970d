"""A short-lived read-through cache of the registry for the exchange's hot path (and the names
on a citizen's list).

Services, authorizations and institutions change a few times a day and are read on every
exchange. Each hub process reuses what it read for `ttl` seconds; a change made through this
process clears its cache at once, and other processes see it within `ttl`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import TypeVar, cast

from ..domain.registry import Application, Authorization, Institution, Service
from .ports import RegistryRepository

_MAX_ENTRIES = 10_000

T = TypeVar("T")
# The kind of entry ("service", "authorization", ...) and the arguments it was read with.
Key = tuple[str | None, ...]


class RegistryCache:
    def __init__(self, registry: RegistryRepository, ttl: float) -> None:
        self._registry = registry
        self._ttl = ttl
        self._entries: dict[Key, tuple[float, object]] = {}

    def clear(self) -> None:
        self._entries.clear()

    async def _get(self, key: Key, load: Callable[[], Awaitable[T]]) -> T:
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            # A key's first element names the method that stored it, whose `load` gave a T.
            return cast(T, hit[1])
        value = await load()
        if self._ttl > 0:
            if len(self._entries) >= _MAX_ENTRIES:  # callers choose the keys; keep memory bounded
                self._entries.clear()
            self._entries[key] = (now + self._ttl, value)
        return value

    async def service(self, code: str, version: str | None) -> Service | None:
        return await self._get(
            ("service", code, version), lambda: self._registry.get_service(code, version)
        )

    async def authorizations(
        self, consumer: str, service: str | None, purpose: str
    ) -> list[Authorization]:
        """The consumer's authorizations for `purpose`, for one service (None: every service)."""
        return await self._get(
            ("authorizations", consumer, service, purpose),
            lambda: self._registry.find_authorizations(consumer, service, purpose),
        )

    async def institution(self, number: str) -> Institution | None:
        return await self._get(
            ("institution", number), lambda: self._registry.get_institution(number)
        )

    async def application(self, institution: str, code: str) -> Application | None:
        return await self._get(
            ("application", institution, code),
            lambda: self._registry.get_application(institution, code),
        )

    async def authorization(self, reference: str) -> Authorization | None:
        return await self._get(
            ("authorization", reference), lambda: self._registry.get_authorization(reference)
        )

    async def integration_rights(self) -> Mapping[str, frozenset[str]]:
        """The capacities each institution may integrate in: one small map, read on every exchange
        and every mutation's fan-out (2,000 institutions hold a few capacities each)."""

        async def load() -> Mapping[str, frozenset[str]]:
            by_institution: dict[str, set[str]] = {}
            for right in await self._registry.list_integration_rights():
                by_institution.setdefault(right.institution, set()).add(right.capacity)
            return MappingProxyType({k: frozenset(v) for k, v in by_institution.items()})

        return await self._get(("integration_rights",), load)

    async def routed_providers(self, service: str) -> frozenset[str]:
        async def load() -> frozenset[str]:
            return frozenset(
                p.institution for p in await self._registry.list_routed_providers(service)
            )

        return await self._get(("routed_providers", service), load)
