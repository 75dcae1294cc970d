"""The service tier's world: the use cases wired to the in-memory fakes (tests/fakes/), with no
HTTP and no database, so that each test runs in milliseconds and names the rule it checks.

The hub's keys are the real ones (adapters.keys: signing is no I/O), the clock a fixed one, and
pushes wait in the outbox queue, which is the mutation store itself (here the fake).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest

from crossroads.adapters.keys import HubKeys
from crossroads.adapters.outbox_queue import OutboxPushQueue
from crossroads.domain.callers import Caller
from crossroads.domain.identifiers import IdentifierScheme, scheme_for
from crossroads.domain.registry import (
    Application,
    Authorization,
    Capacity,
    Institution,
    IntegrationRight,
    Service,
)
from crossroads.domain.subjects import SubjectHasher
from crossroads.domain.webhooks import WebhookPolicy
from crossroads.services.arrivals import Arrivals
from crossroads.services.auth import TokenService
from crossroads.services.clock import FixedClock
from crossroads.services.deferred_audit import DeferredAudit
from crossroads.services.directory import DirectoryService
from crossroads.services.exchange import ExchangeService
from crossroads.services.mutations import MutationService
from crossroads.services.registry import RegistryAdmin
from crossroads.services.registry_cache import RegistryCache

from ..fakes import MemoryProviders, MemoryStore

NR = "0403170701"  # the national register: the authentic source of identities
WELFARE = "0206731645"  # a social welfare centre
FUND = "0411905847"  # a health insurance fund
PERSON = "85073100130"  # valid check digits
STRANGER = "90020100229"
ISSUER = "http://hub.test"
TODAY = date(2026, 6, 15)


@dataclass
class World:
    store: MemoryStore
    providers: MemoryProviders
    keys: HubKeys
    clock: FixedClock
    scheme: IdentifierScheme
    hasher: SubjectHasher
    registry: RegistryAdmin
    directory: DirectoryService
    exchange: ExchangeService
    tokens: TokenService
    mutations: MutationService
    arrivals: Arrivals

    def records(self, kind: str | None = None):
        return [r for r in self.store.audit.records() if kind is None or r.kind == kind]


@pytest.fixture
def world(tmp_path) -> Iterator[World]:
    """The services over memory fakes. Every append a service announced to the audit log was
    made or withdrawn by the end of the test (a promise left open would hold the log's commits
    back by their delay)."""
    made = _world(tmp_path)
    yield made
    assert made.store.audit.on_their_way == 0, "an announced audit append was never made"


def _world(tmp_path) -> World:
    store, providers = MemoryStore(), MemoryProviders()
    keys = HubKeys.load_or_create(tmp_path / "keys")
    clock = FixedClock(1_781_524_800.0)  # 2026-06-15 12:00 UTC
    assert clock.today() == TODAY
    scheme, hasher = scheme_for("BE"), SubjectHasher(b"s" * 32)
    cache = RegistryCache(store.registry, 0)  # no caching: every test sees its own changes
    arrivals = Arrivals()
    return World(
        store,
        providers,
        keys,
        clock,
        scheme,
        hasher,
        RegistryAdmin(store.registry, store.audit, clock, scheme, cache),
        DirectoryService(store.directory, store.registry, store.audit, clock, scheme, hasher, 30),
        ExchangeService(
            store.registry,
            store.directory,
            store.audit,
            providers,
            keys,
            clock,
            scheme,
            hasher,
            cache,
            DeferredAudit(store.audit),
        ),
        TokenService(
            store.registry,
            store.replay,
            store.audit,
            keys,
            clock,
            issuer=ISSUER,
            token_ttl=300,
            max_assertion_lifetime=300,
        ),
        MutationService(
            store.mutations,
            store.registry,
            store.directory,
            store.audit,
            clock,
            scheme,
            hasher,
            cache,
            OutboxPushQueue(store.mutations),
            WebhookPolicy(ISSUER),
            arrivals,
        ),
        arrivals,
    )


async def seed_identity(world: World) -> None:
    """The national register serving person.identity, and the welfare centre authorized to ask
    it for names under ISC/24/101, in the capacity SOCIAL_ASSISTANCE."""
    registry = world.store.registry
    await registry.put_institution(Institution(NR, "National Register", base_url="http://nr.test"))
    await registry.put_institution(Institution(WELFARE, "Welfare centre"))
    await registry.put_application(Application(WELFARE, "case-app", "Case files"))
    await registry.put_capacity(Capacity("SOCIAL_ASSISTANCE", "Social assistance"))
    await registry.put_integration_right(IntegrationRight(WELFARE, "SOCIAL_ASSISTANCE", "law"))
    await registry.put_service(
        Service(
            "person.identity",
            "1",
            "Identity",
            ("name", "birth_date", "gender"),
            provider=NR,
            response_schema={"type": "object", "required": ["name"]},
        )
    )
    await registry.put_authorization(
        Authorization(
            "ISC/24/101",
            WELFARE,
            "person.identity",
            "SOCIAL_INTEGRATION",
            "Law of 26 May 2002",
            ("SOCIAL_ASSISTANCE",),
            ("name", "birth_date"),
            date(2020, 1, 1),
        )
    )


WELFARE_APP = Caller(WELFARE, "case-app")
