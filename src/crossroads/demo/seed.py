"""Seed a hub with the demo country through the same use cases the admin API calls."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Protocol

from ..adapters.keys import client_key_path, generate_application_key, public_jwk
from ..bootstrap import Hub
from ..domain.callers import Caller
from ..domain.operators import Actor, Operator, Role
from ..domain.registry import Application, Institution, IntegrationRight, RoutedProvider
from ..entrypoints.api.declarations_source import MOUNT as SOURCE_MOUNT
from . import analyst, country, employers, own_access, personas, rights
from .estonia import demo_country
from .people import DemoCountry
from .rights_extract import POPULATION_FILE
from .wordings import worded

__all__ = ["client_key_path", "example_subject", "seed"]


class SeedProgress(Protocol):
    """Told what seeding does, so that `crossroads demo` can show it (it takes seconds)."""

    def stage(self, name: str, total: int | None = None) -> None:
        """A stage begins; `total` is the number of steps it will advance by, when counted."""

    def advance(self, steps: int) -> None:
        """`steps` more steps of the current stage are done."""


class _Quiet:
    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, steps: int) -> None:
        pass


async def seed(
    hub: Hub,
    persons: int,
    provider_host: str,
    provider_port_base: int,
    progress: SeedProgress | None = None,
) -> dict:
    """Idempotent: a second run re-puts the registry and re-integrates the same persons. The
    country is the hub's (`CROSSROADS_COUNTRY`): demo/country.py or demo/estonia.py."""
    progress = progress or _Quiet()
    land = demo_country(hub.settings.country)
    extras = land.declarations_and_rights  # declarations, rights engine, own access: Belgian
    registry = hub.registry.by("demo:seed")  # the audit records say who set the registry up
    progress.stage("the registry: institutions, services, authorizations, applications")
    for member in land.members:
        base_url = (
            None
            if member.port_offset is None
            else f"http://{provider_host}:{provider_port_base + member.port_offset}"
        )
        if member.served_by_hub:
            base_url = hub.settings.issuer + SOURCE_MOUNT
        await registry.put_institution(Institution(member.number, member.name, "GOV", base_url))
    for capacity in [*country.CAPACITIES, *([rights.CAPACITY] if extras else [])]:
        await registry.put_capacity(worded(capacity))
    for key, capacity, legal_basis in country.INTEGRATION_RIGHTS + (
        rights.INTEGRATION_RIGHTS if extras else []
    ):
        await registry.put_integration_right(
            worded(IntegrationRight(land.by_key[key].number, capacity, legal_basis))
        )
    if extras:
        await registry.put_institution(own_access.PORTAL)
        await registry.put_capacity(worded(own_access.CAPACITY))
    for service in country.services(land.by_key) + (
        employers.services() + own_access.services() + rights.services() if extras else []
    ):
        await registry.put_service(worded(service))
    for service, key in country.ROUTED_PROVIDERS:
        await registry.put_routed_provider(RoutedProvider(service, land.by_key[key].number))
    for authorization in country.authorizations(land.by_key) + (
        employers.authorizations()
        + own_access.authorizations()
        + rights.authorizations()
        + analyst.authorizations()
        if extras
        else []
    ):
        await registry.put_authorization(worded(authorization))
    clients = []
    for key, code in country.APPLICATIONS + (rights.APPLICATIONS if extras else []):
        member = land.by_key[key]
        client_id = f"{member.number}:{code}"
        path = client_key_path(hub.settings.data_dir, client_id)
        if path.exists():
            private = json.loads(path.read_text())
        else:
            private = generate_application_key()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(private))
            path.chmod(0o600)
        await registry.put_application(
            Application(
                member.number, code, f"{member.name} — {code}", {"keys": [public_jwk(private)]}
            )
        )
        clients.append(client_id)
    for mutation_type in country.mutation_types(land.by_key) + (
        employers.declaration_mutation_types() + rights.mutation_types() if extras else []
    ):
        await hub.mutations.put_type(worded(mutation_type))
    if extras:
        competence = hub.rights_competence.by("demo:seed")
        for entry in rights.COMPETENCES:
            await competence.put(entry)
    for authorization in country.mutation_authorizations(land.by_key) + (
        employers.mutation_authorizations() + rights.mutation_authorizations() if extras else []
    ):
        await registry.put_authorization(worded(authorization))
    await _subscribe(hub, land, provider_host, provider_port_base)
    subjects = land.persons(persons)
    lines = _recent_provisional(
        land.directory_lines(subjects) + (rights.directory_lines(subjects) if extras else []),
        hub.clock.today(),
    )
    progress.stage("the reference directory", len(lines))
    report = await hub.directory.import_lines(lines, None, "demo-seed", progress.advance)
    if report.errors:
        raise RuntimeError(f"the demo directory has bad lines: {report.errors[:3]}")
    if extras:
        await _declare(hub, subjects, progress)
    await hub.operators.put(
        Operator(f"person:{personas.DEMO_OPERATOR}", (Role.ADMIN,)),
        Actor("demo:seed", frozenset({Role.ADMIN})),
    )
    if extras:  # the persons the rights engine examines, for its extract (demo/rights_extract.py)
        (hub.settings.data_dir / POPULATION_FILE).write_text(json.dumps(subjects))
    return {"clients": clients, "subjects": subjects, "entries": report.applied}


async def _subscribe(
    hub: Hub, land: DemoCountry, provider_host: str, provider_port_base: int
) -> None:
    have = {
        (s.institution, s.application, s.mutation_type)
        for s in await hub.store.mutations.subscriptions()
    }
    for key, application, mutation_type, purpose, webhook_path in country.SUBSCRIPTIONS + (
        employers.SUBSCRIPTIONS + rights.SUBSCRIPTIONS if land.declarations_and_rights else []
    ):
        member = land.by_key[key]
        if (member.number, application, mutation_type) in have:
            continue  # seeding again leaves the subscriptions (and their queues) as they are
        webhook = None
        if webhook_path is not None:
            port = provider_port_base + (member.port_offset or 0)
            webhook = f"http://{provider_host}:{port}{webhook_path}"
        await hub.mutations.subscribe(
            Caller(member.number, application),
            mutation_type,
            purpose,
            None,
            "push" if webhook else "pull",
            webhook,
        )


async def _declare(hub: Hub, subjects: list[str], progress: SeedProgress) -> None:
    """The employers' register, the payroll office's mandates, and a DIMONA IN for each employed
    person, declared by the payroll office through the declarations service (once: a second
    seeding finds the periods and declares nothing again)."""
    payroll = country.BY_KEY["payroll"].number
    for company_id, noss, name in employers.EMPLOYERS:
        await hub.declarations.put_employer(company_id, noss, name, True)
        await hub.declarations.put_mandate(payroll, company_id, date(2024, 1, 1), None)
    declarant = Caller(payroll, "payroll-app")
    employed = employers.employed(subjects)
    progress.stage("the employers' DIMONA declarations", len(employed))
    for subject, employer, start, worker_type in employed:
        progress.advance(1)
        if await hub.store.declarations.periods_of(subject):
            continue
        await hub.declarations.submit_dimona(
            declarant, employers.dimona_in(subject, employer, start, worker_type), "en"
        )


def example_subject(subjects: list[str], capacity_key: str = "welfare") -> str:
    """A person the welfare centre holds (so the demo's first exchange succeeds)."""
    welfare = country.BY_KEY[capacity_key].number
    for line in country.directory_lines(subjects):
        if line["institution"] == welfare and line.get("phase") != "provisional":
            return line["subject"]
    return subjects[0]


def _recent_provisional(lines: list[dict], today: date) -> list[dict]:
    """The country's lines with each provisional integration opened a week ago: phase 1 is a
    file being examined, and a provisional integration may not start further back than it
    may run (services/directory_lines.py)."""
    opened = (today - timedelta(days=7)).isoformat()
    return [
        {**line, "start": max(line["start"], opened)}
        if line.get("phase") == "provisional"
        else line
        for line in lines
    ]
