"""The rules port on OpenFisca: situations and populations into one vectorised simulation.

Many situations are decided in one simulation (one OpenFisca population of all their members,
one household each), so that a batch of re-evaluations or a whole population costs one pass of
array operations per variable, not one per person: a million persons take about half a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from ...domain.errors import Refusal
from ...domain.rights import RuleOutcome, Situation
from ...services.ports import Population, Rules
from .catalogue import RIGHT_VARIABLES, RULES_VERSION

FIRST_MONTH = date(2023, 1, 1)  # the first month every parameter has a value for
_MONTHS_KEPT = 24
_FLAGS = ("integration_income", "income_guarantee_elderly", "disability_allowance")


class OpenFiscaRules(Rules):
    """OpenFisca and numpy are imported at the first decision, not when the hub starts: they add
    about 0.3 s of CPU to the start of every hub process, most of which never decide a right."""

    def __init__(self) -> None:
        self._loaded: Any = None
        self.version = RULES_VERSION
        # Per month: OpenFisca's period (parsed from text at every call otherwise) and the
        # parameters' values. Both follow from the month and the parameter files read at start.
        self._months: dict[date, tuple[Any, dict[str, Any]]] = {}

    @property
    def _system(self) -> Any:
        if self._loaded is None:
            from .system import demo_country

            self._loaded = demo_country()
        return self._loaded

    def rights(self) -> list[dict[str, Any]]:
        return [
            {
                "code": right.code,
                "name": self._system.variables[right.variable].label,
                "variable": right.variable,
                "legal_basis": list(self._references(right.variable)),
                "parameters": {
                    name: {
                        "description": self._parameter(name).description,
                        "reference": self._parameter(name).metadata.get("reference"),
                        "values": {
                            str(at.instant_str): at.value
                            for at in self._parameter(name).values_list
                        },
                    }
                    for name in right.parameters
                },
            }
            for right in RIGHT_VARIABLES
        ]

    def decide(self, situations: Sequence[Situation], month: date) -> list[list[RuleOutcome]]:
        import numpy

        if not situations:
            return []
        sizes = numpy.array([len(s.members) for s in situations])
        household = numpy.repeat(numpy.arange(len(situations)), sizes)
        members = [m for s in situations for m in s.members]
        population = Population(
            household=household,
            child=numpy.array([m.child for m in members]),
            integration_income=numpy.array([m.integration_income for m in members]),
            income_guarantee_elderly=numpy.array([m.income_guarantee_elderly for m in members]),
            disability_allowance=numpy.array([m.disability_allowance for m in members]),
            household_income=numpy.array([s.household_income for s in situations], dtype=float),
        )
        results = self.scan(population, month)
        first = numpy.concatenate(([0], numpy.cumsum(sizes)[:-1]))  # each household's person
        values = self._month(month)[1]
        period = f"{month:%Y-%m}"
        outcomes: list[list[RuleOutcome]] = []
        for index in first:
            row = []
            for right in RIGHT_VARIABLES:
                value = results[right.code][index]
                amount = float(round(float(value), 2)) if value.dtype.kind == "f" else None
                row.append(
                    RuleOutcome(
                        right=right.code,
                        granted=bool(value > 0) if amount is not None else bool(value),
                        amount=amount,
                        rule_version=self.version,
                        month=period,
                        parameters={name: values[name] for name in right.parameters},
                        legal_basis=self._references(right.variable),
                    )
                )
            outcomes.append(row)
        return outcomes

    def scan(self, population: Population, month: date) -> dict[str, Any]:
        if month < FIRST_MONTH:
            raise Refusal(
                "malformed_request",
                f"the rules decide months from {FIRST_MONTH:%Y-%m} on.",
                "month",
            )
        import numpy
        from openfisca_core.simulation_builder import SimulationBuilder

        household = numpy.asarray(population.household)
        persons = len(household)
        households = len(population.household_income)
        builder = SimulationBuilder()
        builder.create_entities(self._system)
        builder.declare_person_entity("person", numpy.arange(persons))
        groups = builder.declare_entity("household", numpy.arange(households))
        child = numpy.asarray(population.child, dtype=bool)
        builder.join_with_persons(groups, household, numpy.where(child, 1, 0))
        simulation = builder.build(self._system)
        period = self._month(month)[0]
        for name in _FLAGS:
            simulation.set_input(name, period, numpy.asarray(getattr(population, name), dtype=bool))
        simulation.set_input(
            "household_income", period, numpy.asarray(population.household_income, dtype=float)
        )
        return {
            right.code: simulation.calculate(right.variable, period) for right in RIGHT_VARIABLES
        }

    def _parameter(self, name: str) -> Any:
        node: Any = self._system.parameters
        for part in name.split("."):
            node = getattr(node, part)
        return node

    def _month(self, month: date) -> tuple[Any, dict[str, Any]]:
        known = self._months.get(month)
        if known is None:
            from openfisca_core.periods import period

            if len(self._months) >= _MONTHS_KEPT:  # a month asked once is not kept for ever
                self._months.clear()

            known = self._months[month] = (
                period(f"{month:%Y-%m}"),
                self._parameter_values(month),
            )
        return known

    def _parameter_values(self, month: date) -> dict[str, Any]:
        at = self._system.get_parameters_at_instant(f"{month:%Y-%m}-01")
        found: dict[str, Any] = {}
        for right in RIGHT_VARIABLES:
            for name in right.parameters:
                node: Any = at
                for part in name.split("."):
                    node = getattr(node, part)
                found[name] = node.item() if hasattr(node, "item") else node
        return found

    def _references(self, variable: str) -> tuple[str, ...]:
        return tuple(self._system.variables[variable].reference or ())
