"""The demo's own wiring: the production hub (bootstrap.py, the API's create_app) plus what only
the demo has, its development identity provider, where anyone may sign in as any citizen, or as
one of its personas (demo/personas.py).

Production never imports `crossroads.demo`; the demo builds on production's wiring instead, so
the dependency runs one way (a test checks it: tests/test_layering.py).
"""

from __future__ import annotations

from fastapi import FastAPI

from ..bootstrap import Hub, bootstrap, with_extract
from ..config import Settings
from ..entrypoints.api.app import create_app
from ..services.clock import Clock
from ..services.ports import ProviderClient
from . import identity_provider, personas, rights
from .estonia import demo_country
from .identity_provider import Client, DevelopmentIdentityProvider
from .rights_extract import POPULATION_FILE, DemoExtract


async def bootstrap_demo(
    settings: Settings,
    clock: Clock | None = None,
    providers: ProviderClient | None = None,
    oidc_http: dict | None = None,
) -> Hub:
    """The hub as `bootstrap` builds it, with the development identity provider in demo mode,
    and the demo's rights engine (demo/rights.py) unless the settings name another (or the
    demo's country has none)."""
    land = demo_country(settings.country)
    if settings.rights_engine is None and land.declarations_and_rights:
        settings = settings.model_copy(update=rights.SETTINGS)
    hub = await bootstrap(settings, clock, providers, oidc_http, create_keys=True)
    population = settings.data_dir / POPULATION_FILE
    with_extract(hub, DemoExtract(population, hub.store.rights, hub.hasher))
    if settings.demo:
        citizen_secret = settings.citizen_oidc_client_secret
        operator_secret = settings.operator_oidc_client_secret
        portal_secret = settings.portal_oidc_client_secret
        examples = land.persons(5)
        hub.dev_idp = DevelopmentIdentityProvider(
            f"{settings.issuer}/dev-idp",
            {
                settings.citizen_oidc_client_id: Client(
                    citizen_secret.get_secret_value() if citizen_secret else None,
                    f"{settings.issuer}/citizen/",
                    personas.CITIZEN,
                ),
                settings.operator_oidc_client_id: Client(
                    operator_secret.get_secret_value() if operator_secret else None,
                    f"{settings.issuer}/operator/",
                    personas.OPERATOR,
                ),
                settings.portal_oidc_client_id: Client(
                    portal_secret.get_secret_value() if portal_secret else None,
                    f"{settings.issuer}/portal/",
                    personas.PORTAL,
                ),
            },
            DevelopmentIdentityProvider.load_key(settings.data_dir / "dev-idp"),
            hub.store.replay,
            examples=examples,
            personas=personas.personas(examples[:3]),
        )
    return hub


def create_demo_app(
    settings: Settings, clock: Clock | None = None, hub: Hub | None = None
) -> FastAPI:
    """The hub's app, built with the demo's wiring, serving the development identity provider in
    demo mode."""
    routers = [identity_provider.router()] if settings.demo else []
    return create_app(settings, clock, hub, build=bootstrap_demo, routers=routers)
