"""The demo's simulated authentic sources, each a provider-kit app on its own port; two of them
also receive pushed mutations at a webhook."""

from __future__ import annotations

import logging
from collections import deque

from ..providerkit import HubKeySet, ProviderApp
from . import country, household_facts
from .people import DemoCountry

log = logging.getLogger("crossroads.demo")


def provider_apps(
    keys: HubKeySet, host: str, port_base: int, land: DemoCountry = country.BELGIUM
) -> dict[str, tuple[int, ProviderApp]]:
    """member key -> (port, app) for every member that provides a service, answering for the
    persons of `land`."""
    apps: dict[str, tuple[int, ProviderApp]] = {}

    def make(key: str) -> ProviderApp:
        member = land.by_key[key]
        port = port_base + (member.port_offset or 0)
        app = ProviderApp(f"http://{host}:{port}", keys)
        apps[key] = (port, app)
        return app

    nr = make("nr")

    @nr.service("/services/person.identity/1")
    async def identity(request: dict) -> dict:
        return land.identity(request["subject"])

    @nr.service("/services/person.address/1")
    async def address(request: dict) -> dict:
        return land.address(request["subject"])

    @nr.service("/services/person.household/1")
    async def household(request: dict) -> dict:
        return land.household(request["subject"])

    @nr.service("/mutations/person.address-change/1/state")  # initial synchronisation
    async def current_address(request: dict) -> dict:
        return land.current_address(request["subject"])

    @nr.service("/services/household.composition/1")
    async def household_composition(request: dict) -> dict:
        return household_facts.household(request["subject"])

    register = make("benefits")

    @register.service("/services/social.benefits/1")
    async def benefits(request: dict) -> dict:
        return household_facts.benefits(request["subject"])

    @register.service("/services/household.benefits/1")
    async def members_benefits(request: dict) -> dict:
        return household_facts.household_benefits(request["subject"])

    @register.service("/services/household.income/1")
    async def income(request: dict) -> dict:
        return household_facts.income(request["subject"])

    @make("employment").service("/services/employment.periods/1")
    async def employment(request: dict) -> dict:
        return land.employment(request["subject"])

    @make("unemployment").service("/services/unemployment.status/1")
    async def unemployment(request: dict) -> dict:
        return land.unemployment(request["subject"])

    for fund in ("fund_a", "fund_b"):

        def affiliation_for(fund_key: str):
            async def affiliation(request: dict) -> dict:
                return land.affiliation(request["subject"], fund_key)

            return affiliation

        make(fund).service("/services/health.affiliation/1")(affiliation_for(fund))

    @make("childben").service("/services/childbenefit.entitlement/1")
    async def child_benefit(request: dict) -> dict:
        return land.child_benefit(request["subject"])

    for key in ("unemployment", "childben"):  # their benefit applications have mutations pushed
        make_receiver(apps[key][1], key)
    return apps


# What the demo's institutions received by webhook, newest last (a real one would act on it).
RECEIVED: dict[str, deque] = {}


def make_receiver(app: ProviderApp, key: str) -> None:
    received = RECEIVED.setdefault(key, deque(maxlen=1000))

    @app.mutations("/webhooks/mutations")
    async def mutations(events: list) -> None:
        received.extend(events)
        log.info(
            "%s received %d mutation(s): %s",
            key,
            len(events),
            ", ".join(e.get("type", "?") for e in events),
        )
