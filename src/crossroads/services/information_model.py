"""The harmonised information model: what the portal shows everyone, without signing in.

Generated, never written twice: the services, authorizations and mutation types come from the
registry as it is now, the declaration forms' zones and anomalies from the official glossaries
the hub validates declarations with. Institutions are named by the registry's names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..domain.declarations.anomalies import Anomaly, Glossary, Zone
from ..domain.errors import Refusal
from ..domain.mutations import MutationType
from ..domain.registry import Authorization, Capacity, Service
from .registry_checks import HOLDERS_NAME, HOLDERS_SERVICE
from .registry_queries import RegistryQueries


@dataclass(frozen=True)
class Field:
    """One field a service answers or a change carries, with its JSON Schema (may be empty)."""

    name: str
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class ServiceEntry:
    service: Service
    provider_name: str | None  # the authentic source's, for a service with one fixed provider
    capacity_name: str | None  # the capacity it is routed by, for a routed service
    fields: tuple[Field, ...]
    capacity_translations: Mapping[str, str] = field(default_factory=dict)  # its name's


@dataclass(frozen=True)
class MutationEntry:
    mutation_type: MutationType
    publisher_name: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Flow:
    """One authorization: who may receive what (a service's answers or a kind of change)."""

    authorization: Authorization
    consumer_name: str
    kind: str  # "service" or "mutation"


@dataclass(frozen=True)
class FlowGroup:
    """The authorizations that allow one flow: one service, or one kind of change."""

    code: str
    name: str
    kind: str
    flows: tuple[Flow, ...]
    name_translations: Mapping[str, str] = field(default_factory=dict)  # the target's name's


@dataclass(frozen=True)
class Form:
    """A declaration form and its glossary, summed up."""

    code: str  # as in the address: "dimona", "dmfa"
    name: str
    zones: int
    anomalies: int
    blocking: int


@dataclass(frozen=True)
class ZoneEntry:
    zone: Zone
    anomalies: tuple[Anomaly, ...]


# The forms the hub accepts, by their code in addresses, with their official names.
FORM_NAMES = {"dimona": "DIMONA", "dmfa": "DmfA"}


def _fields(names: tuple[str, ...], schema: Mapping[str, Any]) -> tuple[Field, ...]:
    properties = schema.get("properties") or {}
    return tuple(Field(name, properties.get(name) or {}) for name in names)


def _capacity_name(capacities: Mapping[str, Capacity], code: str | None) -> str | None:
    if code is None:
        return None
    capacity = capacities.get(code)
    return capacity.name if capacity else code


def _capacity_translations(capacities: Mapping[str, Capacity], code: str | None) -> dict[str, str]:
    capacity = capacities.get(code) if code else None
    return dict(capacity.name_translations) if capacity else {}


class InformationModel:
    def __init__(self, registry: RegistryQueries, glossaries: Mapping[str, Glossary]) -> None:
        """`glossaries`: form code (a key of FORM_NAMES) -> its glossary."""
        self._registry = registry
        self._glossaries = dict(glossaries)

    async def _institution_names(self) -> dict[str, str]:
        return {i.enterprise_number: i.name for i in await self._registry.institutions()}

    async def services(self) -> list[ServiceEntry]:
        names = await self._institution_names()
        capacities = {c.code: c for c in await self._registry.capacities()}
        return [
            ServiceEntry(
                s,
                names.get(s.provider, s.provider) if s.provider else None,
                _capacity_name(capacities, s.routed_capacity),
                _fields(s.response_fields, s.response_schema),
                _capacity_translations(capacities, s.routed_capacity),
            )
            for s in sorted(
                await self._registry.services(), key=lambda s: (s.name.lower(), s.version)
            )
        ]

    async def mutation_types(self) -> list[MutationEntry]:
        names = await self._institution_names()
        return [
            MutationEntry(t, names.get(t.publisher, t.publisher), _fields(t.fields, t.schema))
            for t in sorted(
                await self._registry.mutation_types(), key=lambda t: (t.name.lower(), t.version)
            )
        ]

    async def flows(self) -> list[FlowGroup]:
        """Every authorization, grouped by the service or the kind of change it opens, each
        group by name; an authorization for a code the registry no longer has is listed under
        its code."""
        names = await self._institution_names()
        targets: dict[str, tuple[str, str]] = {HOLDERS_SERVICE: (HOLDERS_NAME, "service")}
        wordings: dict[str, Mapping[str, str]] = {}
        for t in await self._registry.mutation_types():
            targets.setdefault(t.code, (t.name, "mutation"))
            wordings.setdefault(t.code, t.name_translations)
        for s in await self._registry.services():
            targets.setdefault(s.code, (s.name, "service"))
            wordings.setdefault(s.code, s.name_translations)
        grouped: dict[str, list[Flow]] = {}
        for a in await self._registry.authorizations():
            kind = targets.get(a.service, (a.service, "service"))[1]
            grouped.setdefault(a.service, []).append(
                Flow(a, names.get(a.consumer, a.consumer), kind)
            )
        groups = [
            FlowGroup(
                code,
                targets.get(code, (code, "service"))[0],
                flows[0].kind,
                tuple(sorted(flows, key=lambda f: f.authorization.reference)),
                wordings.get(code, {}),
            )
            for code, flows in grouped.items()
        ]
        return sorted(groups, key=lambda g: (g.kind != "service", g.name.lower()))

    def forms(self) -> list[Form]:
        return [self._form(code) for code in FORM_NAMES if code in self._glossaries]

    def _glossary(self, form: str) -> Glossary:
        glossary = self._glossaries.get(form)
        if glossary is None:
            raise Refusal("not_found", f"no declaration form {form[:40]!r}: dimona or dmfa.")
        return glossary

    def _form(self, code: str) -> Form:
        glossary = self._glossary(code)
        return Form(
            code,
            FORM_NAMES[code],
            len({c.split("-", 1)[0] for c in glossary.entries}),
            len(glossary.entries),
            sum(1 for severity, _ in glossary.entries.values() if severity == "B"),
        )

    def form(self, code: str) -> tuple[Form, list[ZoneEntry]]:
        """A form and its zones that have anomalies, by title, each with its anomalies."""
        glossary = self._glossary(code)
        zones = sorted(
            (
                ZoneEntry(zone, tuple(glossary.anomalies_of(zone.code)))
                for zone in glossary.zones.values()
            ),
            key=lambda z: (z.zone.title.lower(), z.zone.code),
        )
        return self._form(code), [z for z in zones if z.anomalies]

    def zone(self, form: str, code: str) -> tuple[Form, ZoneEntry]:
        glossary = self._glossary(form)
        zone = glossary.zones.get(code)
        if zone is None:
            raise Refusal(
                "not_found", f"the {FORM_NAMES[form]} glossary has no zone {code[:20]!r}."
            )
        return self._form(form), ZoneEntry(zone, tuple(glossary.anomalies_of(code)))
