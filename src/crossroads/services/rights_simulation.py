"""Simulations: "what would I get if ..." — from scratch, or from a person's real facts.

A signed-in person's simulation starts from their facts, read by the rights engine through the
hub's services (audited; the user who asked is `self`, the person the records are about); the
changes they type are applied in memory and never stored, with their identity or otherwise.
An anonymous simulation reads nothing: the whole situation is typed. Anyone may ask one, so at
most `at_once` run at the same time, each in a thread (a calculation takes milliseconds of CPU that
would otherwise stop the event loop); one more is refused `simulations_busy` at once rather than
queued, so that a flood costs the hub no more than `at_once` cores.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from ..domain.errors import Refusal
from ..domain.rights import MAX_MEMBERS, Fact, PersonFacts, RuleOutcome, Situation
from .clock import Clock
from .ports import Rules
from .rights_facts import BENEFIT_FLAGS, FactReader

# The user the audit records name when a person simulates from their own facts: the records are
# about that person already (their keyed hash), so their number is not written a second time.
SELF = "self"
# `children_to_come` and `income_ending` change the real facts rather than replace them: a child
# to come adds to the children the register knows, a job that ends takes its yearly wages off the
# household's income.
CHANGES = frozenset(
    {
        "household_income",
        "adults",
        "children",
        "child",
        "children_to_come",
        "income_ending",
        *BENEFIT_FLAGS,
    }
)
_COUNTS = ("adults", "children", "children_to_come")
_AMOUNTS = ("household_income", "income_ending")
MAX_INCOME = 100_000_000


@dataclass(frozen=True)
class Simulated:
    outcomes: list[RuleOutcome]
    facts: tuple[Fact, ...]
    before: list[RuleOutcome] | None = None  # a signed-in simulation: the rights as they are


class RightsSimulation:
    def __init__(
        self, reader: FactReader | None, rules: Rules, clock: Clock, at_once: int = 2
    ) -> None:
        """`reader`: the rights engine's, None when there is no engine (anonymous only);
        `at_once`: how many anonymous simulations run at the same time."""
        self._reader = reader
        self._rules = rules
        self._clock = clock
        self.at_once = at_once
        self._running = 0

    async def anonymous(self, body: object) -> Simulated:
        changes = parse_changes(body)
        start = Situation((PersonFacts(),), 0.0)
        situation, facts = apply(start, changes, ())
        if self._running >= self.at_once:
            raise Refusal(
                "simulations_busy",
                f"{self.at_once} anonymous simulations are running already: try again shortly.",
            )
        self._running += 1
        try:
            [outcomes] = await asyncio.to_thread(self._rules.decide, [situation], self._month())
        finally:
            self._running -= 1
        return Simulated(outcomes, facts)

    async def of_person(self, subject: str, body: object) -> Simulated:
        changes = parse_changes(body)
        if self._reader is None:
            raise Refusal("not_found", "this hub has no rights engine to read your facts with.")
        read = await self._reader.read(subject, user_id=SELF)
        situation, facts = apply(read.situation, changes, read.facts)
        before, after = self._rules.decide([read.situation, situation], self._month())
        return Simulated(after, facts, before)

    def _month(self) -> date:
        return self._clock.today().replace(day=1)


def parse_changes(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Refusal("malformed_request", "a simulation is a JSON object of changes.")
    unknown = sorted(set(body) - CHANGES)
    if unknown:
        raise Refusal("malformed_request", f"unknown field {unknown[0][:64]}.", unknown[0][:64])
    for name in ("child", *BENEFIT_FLAGS):
        if name in body and not isinstance(body[name], bool):
            raise Refusal("malformed_request", f"{name} is true or false.", name)
    for name in _COUNTS:
        value = body.get(name)
        if name in body and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_MEMBERS
        ):
            raise Refusal(
                "malformed_request", f"{name} is a whole number from 0 to {MAX_MEMBERS}.", name
            )
    for name in _AMOUNTS:
        value = body.get(name)
        if name in body and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value <= MAX_INCOME
        ):
            raise Refusal(
                "malformed_request",
                f"{name} is a number of euros a year, from 0 to {MAX_INCOME}.",
                name,
            )
    return dict(body)


def apply(
    situation: Situation, changes: dict[str, Any], facts: tuple[Fact, ...]
) -> tuple[Situation, tuple[Fact, ...]]:
    """The situation with the typed changes, and the facts with the typed ones marked as such."""
    person = situation.members[0]
    person = replace(
        person,
        **{name: changes[name] for name in ("child", *BENEFIT_FLAGS) if name in changes},
    )
    others = situation.members[1:]
    adults = changes.get("adults", sum(not m.child for m in situation.members))
    children = changes.get("children", sum(m.child for m in situation.members))
    children = min(children + changes.get("children_to_come", 0), MAX_MEMBERS)
    if {"adults", "children", "child", "children_to_come"} & set(changes):
        # The members the register knows keep their facts (their benefits); the typed counts
        # drop the last ones or add members with none.
        others = _resized([m for m in others if not m.child], adults - (not person.child), False)
        others += _resized(
            [m for m in situation.members[1:] if m.child], children - person.child, True
        )
    income = float(changes.get("household_income", situation.household_income))
    income = max(income - changes.get("income_ending", 0), 0.0)
    changed = Situation((person, *others), income)
    typed = {
        "household_adults" if k == "adults" else "household_children" if k == "children" else k: v
        for k, v in changes.items()
    }
    kept = tuple(f for f in facts if f.name not in typed)
    return changed, kept + tuple(Fact(name, value, "simulation") for name, value in typed.items())


def _resized(members: list[PersonFacts], count: int, child: bool) -> tuple[PersonFacts, ...]:
    count = max(count, 0)
    return tuple(members[:count]) + tuple(
        PersonFacts(child=child) for _ in range(count - len(members[:count]))
    )
