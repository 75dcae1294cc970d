"""The facts a rule needs, read through the hub's own services by the rights engine.

The engine is a member of the network like any other: each fact is an exchange of its
application, under its own authorization (purpose and legal basis), checked against the reference
directory (the engine holds the persons it examines in its capacity) and audited. Nothing here
reads a store directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from ..domain.callers import Caller
from ..domain.errors import Refusal
from ..domain.rights import Fact, PersonFacts, Situation
from .exchange import ExchangeRequest, ExchangeResult, ExchangeService
from .registry_checks import HOLDERS_SERVICE as HOLDERS

COMPOSITION, BENEFITS, INCOME = ("household.composition", "social.benefits", "household.income")
MEMBERS = "household.benefits"  # the other adults' benefits: the energy tariff is a household's
FACT_SERVICES = (COMPOSITION, BENEFITS, INCOME, MEMBERS)
BENEFIT_FLAGS = ("integration_income", "income_guarantee_elderly", "disability_allowance")


@dataclass(frozen=True)
class ReadFacts:
    """A person's situation and the facts it was built from."""

    situation: Situation
    facts: tuple[Fact, ...]
    holders: tuple[tuple[str, str], ...]  # (institution, capacity): who holds a file on them


class FactReader:
    def __init__(self, exchange: ExchangeService, caller: Caller, purpose: str) -> None:
        """`caller`: the rights engine's application; `purpose`: the purpose its authorizations
        name (one per service read)."""
        self._exchange = exchange
        self.caller = caller
        self._purpose = purpose

    async def read(self, subject: str, user_id: str | None = None) -> ReadFacts:
        """The four exchanges, and who holds a file on the person (to find the competent
        institution), in parallel (a refusal of any of them is raised); `user_id` says who asked
        (`self`: the person, reading their own situation (a simulation), so that the audit
        record says who asked)."""
        # Together: their five audit records share one commit (one disk flush) before any
        # answer is used; each is still authorized, directory-checked and audited on its own.
        outcomes = await self._exchange.handle_together(
            [
                ExchangeRequest(self.caller, service, subject, self._purpose, user_id=user_id)
                for service in (*FACT_SERVICES, HOLDERS)
            ]
        )
        for outcome in outcomes:
            if isinstance(outcome, Refusal):
                raise outcome
        composition, benefits, income, members, holders = cast(list[ExchangeResult], outcomes)
        child = bool(_answer(composition).get("child"))
        adults = int(_answer(composition).get("adults", 1))
        children = int(_answer(composition).get("children", 0))
        own = _answer(benefits)
        yearly = float(_answer(income).get("yearly_income", 0.0))
        person = PersonFacts(child=child, **{flag: bool(own.get(flag)) for flag in BENEFIT_FLAGS})
        # The other adults as the register of benefits knows them, as many as the household has.
        theirs = [m for m in _answer(members).get("members", []) if isinstance(m, dict)]
        others = [
            PersonFacts(**{flag: bool(m.get(flag)) for flag in BENEFIT_FLAGS}) for m in theirs
        ][: max(adults - (not child), 0)]
        others += [PersonFacts() for _ in range(max(adults - (not child), 0) - len(others))]
        receiving = sum(any(getattr(m, flag) for flag in BENEFIT_FLAGS) for m in others)
        others += [PersonFacts(child=True) for _ in range(max(children - child, 0))]
        situation = Situation((person, *others), yearly)
        facts = (
            _fact("child", child, composition),
            _fact("household_adults", adults, composition),
            _fact("household_children", children, composition),
            *(_fact(flag, bool(own.get(flag)), benefits) for flag in BENEFIT_FLAGS),
            _fact("household_benefits", receiving, members),
            _fact("household_income", yearly, income),
        )
        held = _answer(holders).get("holders", [])
        return ReadFacts(situation, facts, tuple((h["institution"], h["capacity"]) for h in held))


def _answer(result: ExchangeResult) -> dict[str, Any]:
    for answer in result.answers:
        if answer.error is None and isinstance(answer.data, dict):
            return answer.data
    raise Refusal(
        "invalid_provider_response", f"no provider of {result.service} answered with facts."
    )


def _fact(name: str, value: Any, result: ExchangeResult) -> Fact:
    providers = [a.provider for a in result.answers if a.error is None]
    return Fact(
        name,
        value,
        f"{result.service}/{result.version}",
        providers[0] if providers else None,
        result.authorization.reference,
    )
