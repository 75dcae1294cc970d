"""What leaves the statistics warehouse: aggregates only, each with its protection stated.

An analyst is an application of an institution holding an authorization for the built-in
service `statistics.aggregates` (services/registry.py): its purpose is the project, its legal
basis the reason, its allowed fields the marts. Two protections:

- `suppression`: the exact figure from the mart's lattice, decided once per snapshot by the
  extraction that wrote it and stored in it (domain/statistics/suppression.py); suppressed
  cells are null. Free of budget.
- `dp`: a count, sum or mean with discrete Laplace noise (OpenDP), each person's contribution
  bounded to `contributions` units and each unit's value clamped to the measure's bound. The
  epsilon is taken from the analyst's budget for the project first (durably, in the hub's store),
  and a query that would exceed it is refused.

Every question, answered or refused for its budget, is in the audit log (kind `statistics`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..domain.audit import AuditRecord
from ..domain.callers import Caller
from ..domain.errors import Refusal
from ..domain.registry import Authorization, choose_authorization
from ..domain.statistics.marts import Mart, mart
from ..domain.statistics.suppression import Decided, Key, decide
from .clock import Clock
from .ports import AuditLog, Noise, PrivacyBudgets, Warehouse
from .registry_cache import RegistryCache
from .registry_checks import STATISTICS_SERVICE

MICRO = 1_000_000  # the budget is kept in millionths of epsilon
# The smallest epsilon a query may spend: one unit of the budget. Below it, the noise of a count
# exceeds what a 64-bit sample holds (an answer of -2^63), and the answer says nothing.
MIN_QUERY_EPSILON = 1 / MICRO
AGGREGATES = ("count", "sum", "mean")


@dataclass(frozen=True)
class Protection:
    threshold: int  # fewest distinct persons a released cell may hold
    budget_epsilon: float  # per analyst institution and project
    max_query_epsilon: float
    contributions: int  # units kept per person under differential privacy


@dataclass(frozen=True)
class AnalystQuery:
    mart: str
    aggregate: str = "count"  # count, sum or mean
    measure: str | None = None  # the summed column, for sum and mean
    group_by: tuple[str, ...] = ()
    filters: dict[str, str] = field(default_factory=dict)
    protection: str = "suppression"  # or "dp"
    epsilon: float | None = None


class StatisticsQueries:
    def __init__(
        self,
        warehouse: Warehouse,
        registry: RegistryCache,
        budgets: PrivacyBudgets,
        noise: Noise,
        audit: AuditLog,
        clock: Clock,
        protection: Protection,
    ) -> None:
        self._warehouse = warehouse
        self._registry = registry
        self._budgets = budgets
        self._noise = noise
        self._audit = audit
        self._clock = clock
        self.protection = protection
        self._lattices: dict[str, tuple[int, dict[Key, Decided], Grouped]] = {}

    async def authorize(self, caller: Caller, purpose: str, reference: str | None) -> Authorization:
        if not caller.institution:
            raise Refusal("forbidden", "statistics are asked by an analyst's application.")
        candidates = await self._registry.authorizations(
            caller.institution, STATISTICS_SERVICE, purpose
        )
        return choose_authorization(candidates, self._clock.today(), reference)

    async def ask(
        self, caller: Caller, purpose: str, reference: str | None, query: AnalystQuery
    ) -> dict[str, Any]:
        """The answer to one question, after the analyst's authorization is checked. Every
        question is recorded, answered or refused (refusals are then marked audited, so that the
        HTTP layer does not record them a second time); a failure to record fails the answer."""
        refused: Refusal | None = None
        authorization: Authorization | None = None
        try:
            authorization = await self.authorize(caller, purpose, reference)
            chosen = mart(query.mart)
            if chosen.name not in authorization.allowed_fields:
                raise Refusal(
                    "no_authorization",
                    f"authorization {authorization.reference} does not cover mart {chosen.name}.",
                    "mart",
                )
            _check(chosen, query)
            if query.protection == "suppression":
                answer = await self.suppressed(chosen, query)
                answer["budget"] = await self._budget(caller, authorization, 0)
            else:
                answer = await self._private(caller, authorization, chosen, query)
            return answer
        except Refusal as refusal:
            refused = refusal
            raise
        finally:
            await self._audit.append(
                AuditRecord(
                    kind="statistics",
                    at_ms=self._clock.now_ms(),
                    outcome=refused.code if refused else "ok",
                    consumer=caller.institution,
                    application=caller.application,
                    service=STATISTICS_SERVICE,
                    purpose=purpose,
                    authorization=authorization.reference if authorization else None,
                    action="query",
                    target=query.mart,
                    detail={
                        "legal_basis": authorization.legal_basis if authorization else "",
                        "aggregate": query.aggregate,
                        "measure": query.measure or "",
                        "group_by": list(query.group_by),
                        "filters": sorted(query.filters),
                        "protection": query.protection,
                        "epsilon": query.epsilon or 0,
                    },
                )
            )
            if refused is not None:
                refused.mark_audited()

    async def lattice(self, chosen: Mart) -> dict[Key, Decided]:
        """The decision stored with the marts being read. Decided here only when none was
        stored at this process's threshold (the setting differs from the extracting
        process's, or the marts were never built), then kept until the marts change."""
        return (await self._current(chosen))[1]

    async def _current(self, chosen: Mart) -> tuple[int, dict[Key, Decided], Grouped]:
        version = await self._warehouse.version()
        cached = self._lattices.get(chosen.name)
        if cached is None or cached[0] != version:
            threshold = self.protection.threshold
            stored = await self._warehouse.lattice(chosen)
            if stored is not None and stored[0] == threshold:
                decided = stored[1]
            else:
                cells = await self._warehouse.cube(chosen, threshold)
                decided = decide(cells, len(chosen.dimensions), threshold)
            cached = self._lattices[chosen.name] = (version, decided, _grouped(decided))
        return cached

    async def suppressed(self, chosen: Mart, query: AnalystQuery) -> dict[str, Any]:
        """The cells of the table grouped by `group_by` (within `filters`), from the lattice.
        Only the cells of that grouping are read, in order: the lattice is grouped and sorted
        once a snapshot, not at each question (a question is free of budget, so one analyst
        asking again and again must not cost the hub's event loop a sort of every cell)."""
        grouped = (await self._current(chosen))[2]
        kept = set(query.group_by) | set(query.filters)
        index = {name: i for i, name in enumerate(chosen.dimensions)}
        measure = 0 if query.measure is None else 1 + _position(chosen, query.measure)
        cells, hidden = [], 0
        for key, cell in grouped.get(tuple(name in kept for name in chosen.dimensions), ()):
            if any(key[index[name]] != value for name, value in query.filters.items()):
                continue
            row: dict[str, Any] = {name: key[index[name]] for name in query.group_by}
            if cell.values is None:
                hidden += 1
                row["value"], row["suppressed"] = None, True
            else:
                row["value"] = _value(query.aggregate, cell.values[0], cell.values[measure])
                row["suppressed"] = False
            cells.append(row)
        return {
            "mart": chosen.name,
            "aggregate": query.aggregate,
            "measure": query.measure,
            "group_by": list(query.group_by),
            "filters": query.filters,
            "cells": cells,
            "protection": {
                "kind": "suppression",
                "threshold": self.protection.threshold,
                "suppressed_cells": hidden,
                "method": "small cells and their complements, decided over the mart's lattice",
            },
        }

    async def _private(
        self, caller: Caller, authorization: Authorization, chosen: Mart, query: AnalystQuery
    ) -> dict[str, Any]:
        epsilon = query.epsilon
        if epsilon is None or not MIN_QUERY_EPSILON <= epsilon <= self.protection.max_query_epsilon:
            raise Refusal(
                "malformed_request",
                f"a differentially private query names its epsilon, from {MIN_QUERY_EPSILON:g} "
                f"to {self.protection.max_query_epsilon:g}.",
                "epsilon",
            )
        if query.group_by:
            raise Refusal(
                "malformed_request",
                "a differentially private query answers one figure: filter instead of grouping.",
                "group_by",
            )
        budget = await self._budget(caller, authorization, epsilon)
        k = self.protection.contributions
        count, total = await self._warehouse.aggregate(chosen, query.measure, query.filters, k)
        upper = chosen.measure(query.measure).upper if query.measure else 0
        if query.aggregate == "count":
            noisy = self._noise.integer(count, k, epsilon)
            value: float = noisy.value
            bound = noisy.bound
        elif query.aggregate == "sum":
            noisy = self._noise.integer(total, k * upper, epsilon)
            value, bound = noisy.value, noisy.bound
        else:  # mean: half the epsilon on the sum, half on the count
            noisy_sum = self._noise.integer(total, k * upper, epsilon / 2)
            noisy = self._noise.integer(count, k, epsilon / 2)
            denominator = max(noisy.value, 1)
            value = noisy_sum.value / denominator
            # |S/N − S'/N'| ≤ (upper·|eN| + |eS|) / N' whenever each noise is within its bound.
            bound = (upper * noisy.bound + noisy_sum.bound) / denominator
        return {
            "mart": chosen.name,
            "aggregate": query.aggregate,
            "measure": query.measure,
            "filters": query.filters,
            "value": value,
            "protection": {
                "kind": "differential_privacy",
                "mechanism": "discrete Laplace (OpenDP)",
                "epsilon": epsilon,
                "contributions_per_person": k,
                "clamp": [0, upper] if query.measure else None,
                "error_bound": bound,
                "confidence": noisy.confidence if query.aggregate != "mean" else 0.9,
            },
            "budget": budget,
        }

    async def _budget(
        self, caller: Caller, authorization: Authorization, epsilon: float
    ) -> dict[str, Any]:
        # The project's budget, whichever of the institution's applications asks: keyed by
        # application, each new application of an institution began the same project afresh.
        analyst, project = caller.institution or "", authorization.reference
        limit = round(self.protection.budget_epsilon * MICRO)
        if epsilon:
            spent = await self._budgets.spend(
                analyst, project, charged(epsilon), limit, self._clock.now_ms()
            )
        else:
            spent = await self._budgets.spent(analyst, project)
        return {
            "project": project,
            "epsilon_used": epsilon,
            "epsilon_spent": spent / MICRO,
            "epsilon_limit": limit / MICRO,
            "epsilon_remaining": (limit - spent) / MICRO,
        }

    async def budget(self, caller: Caller, purpose: str, reference: str | None) -> dict[str, Any]:
        return await self._budget(caller, await self.authorize(caller, purpose, reference), 0)


def charged(epsilon: float) -> int:
    """What a query of `epsilon` takes from the budget, in millionths: rounded up, never down, so
    that the budget bounds what was spent. Rounded to the nearest, ε = 4e-7 cost nothing (any
    number of such questions were answered) and ε = 1.4e-6 cost 1e-6. Counted on the decimal the
    float reads as (`repr`), not on its binary value, so that 0.1 costs 100,000, not 100,001 (the
    two differ by less than 1e-17)."""
    return math.ceil(Decimal(repr(epsilon)) * MICRO)


def _check(chosen: Mart, query: AnalystQuery) -> None:
    chosen.check_dimensions(query.group_by, "group_by")
    chosen.check_dimensions(list(query.filters), "filters")
    if query.aggregate not in AGGREGATES:
        raise Refusal("malformed_request", "aggregate is count, sum or mean.", "aggregate")
    if (query.aggregate == "count") != (query.measure is None):
        raise Refusal(
            "malformed_request", "sum and mean name a measure; a count names none.", "measure"
        )
    if query.measure is not None:
        chosen.measure(query.measure)
    if query.protection not in ("suppression", "dp"):
        raise Refusal("malformed_request", "protection is suppression or dp.", "protection")


def _position(chosen: Mart, measure: str) -> int:
    return [m.name for m in chosen.measures].index(measure)


def _value(aggregate: str, count: int, total: int) -> float:
    if aggregate == "count":
        return count
    if aggregate == "sum":
        return total
    return total / count if count else 0.0


def _order(key: Key) -> tuple[str, ...]:
    return tuple("" if v is None else v for v in key)


# The lattice's cells by their grouping (which dimensions a cell keeps, the others rolled up to
# None), each grouping's cells in the order the answers list them.
Grouped = dict[tuple[bool, ...], list[tuple[Key, Decided]]]


def _grouped(lattice: dict[Key, Decided]) -> Grouped:
    grouped: Grouped = {}
    for key, cell in sorted(lattice.items(), key=lambda item: _order(item[0])):
        grouped.setdefault(tuple(v is not None for v in key), []).append((key, cell))
    return grouped
