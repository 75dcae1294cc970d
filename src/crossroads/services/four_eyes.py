"""Four eyes on authorizations, integration rights, the competent institution of a right, and
what lets an institution act or receive (an application's keys; a member's provider address,
webhook bases and peer hub; the institution a service's requests go to): when the setting is on,
an operator's change to any of them becomes a proposal, applied only when a different operator
approves it. They weigh alike: each decides who acts on persons' data (reads it, holds it,
confirms a right about it, signs as the institution, or is sent it). A change of a member, an
application or a service that only takes away (disabling, removing a key or an address) or
renames is applied at once (domain/proposals.py says which is which).

So is what lets someone approve or act as an operator (a new operator or service account, a role
or a key it did not have): else one admin would make themselves a second pair of eyes (a service
account whose key they hold, a second person id) and approve their own proposals. Withdrawing a
role, removing a key, disabling or removing an operator stays immediate. An approver may not
approve what gives themselves roles or keys, nor a proposal of the operator who set them up (or
whom they set up), `check_unrelated`. The command line on the store stays outside four eyes.

A pending proposal expires after the hub's proposal lifetime: it is shown `expired` and can no
longer be decided (`proposal_expired`).

Both steps are audited: the proposal (`proposal.create`, by its proposer) and its decision
(`proposal.approve` or `proposal.reject`, by the decider); an approved change is then recorded
as any registry change is, under the approver's name, with the proposal's id and proposer in its
detail. With the setting off, changes are applied at once, as before.

An entry's or an operator's write is conditional on the entry it was checked against
(ports/conditional.py): one changed between the check and the write is never written over. An
approval that meets such a change, or whose write is refused or fails, is withdrawn
(`proposal.reopen`, with the reason) and the proposal waits again.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from typing import Any

from ..domain.audit import AuditRecord
from ..domain.errors import Refusal
from ..domain.operators import Actor, Operator
from ..domain.proposals import (
    APPLICATION,
    APPROVED,
    AUTHORIZATION,
    DELETE,
    EXPIRED,
    INSTITUTION,
    INTEGRATION_RIGHT,
    OPERATOR,
    PENDING,
    PUT,
    REJECTED,
    RIGHTS_COMPETENCE,
    SERVICE,
    Proposal,
    as_of,
    check_approver,
    check_pending,
    check_unrelated,
    operator_body,
    operator_from,
    operator_grants,
)
from ..domain.registry import Authorization, IntegrationRight
from ..domain.rights import Competence
from . import four_eyes_entries as entries
from .clock import Clock
from .four_eyes_entries import Entry
from .four_eyes_entries import plain as _plain
from .operators import OperatorAdmin
from .ports import AuditLog, ChangedMeanwhile, Expected, OperatorRepository
from .registry import RegistryAdmin
from .rights_competence import CompetenceAdmin

Change = Authorization | IntegrationRight | Competence | Entry


class FourEyes:
    def __init__(
        self,
        registry: RegistryAdmin,
        proposals: OperatorRepository,
        audit: AuditLog,
        clock: Clock,
        enabled: bool,
        competence: CompetenceAdmin | None = None,
        operators: OperatorAdmin | None = None,
        lifetime_seconds: int = 604800,
    ) -> None:
        """`competence`: the use cases of each right's competent institution, `operators` those
        of the hub's operators (bootstrap always gives both; without one, a change to it is
        refused as `not_found`). `lifetime_seconds`: how long a proposal may wait (> 0)."""
        if lifetime_seconds <= 0:
            raise ValueError("a proposal's lifetime is a positive number of seconds")
        self._lifetime_ms = lifetime_seconds * 1000
        self._operators = operators
        self._registry = registry
        self._competence = competence
        self._proposals = proposals
        self._audit = audit
        self._clock = clock
        self.enabled = enabled

    async def put(self, change: Change, actor: Actor) -> tuple[Change, bool] | Proposal:
        """Apply the change (its value and whether it was new), or, with four eyes on, check it
        and return the proposal that waits for a second operator."""
        registry = self._registry.by(actor.id)
        if isinstance(change, Entry):
            return await self._put_entry(change, registry, actor)
        if isinstance(change, Competence):
            competence = self._competence_admin().by(actor.id)
            if not self.enabled:
                return await competence.put(change)
            checked_competence = await competence.check(change)
            return await self._propose(
                RIGHTS_COMPETENCE, PUT, change.right, checked_competence, actor
            )
        if isinstance(change, Authorization):
            if not self.enabled:
                return await registry.put_authorization(change)
            authorization = await registry.check_authorization(change)
            return await self._propose(
                AUTHORIZATION, PUT, authorization.reference, authorization, actor
            )
        if not self.enabled:
            return await registry.put_integration_right(change)
        checked = await registry.check_integration_right(change)
        key = f"{checked.institution}/{checked.capacity}"
        return await self._propose(INTEGRATION_RIGHT, PUT, key, checked, actor)

    async def _put_entry(
        self, change: Entry, registry: RegistryAdmin, actor: Actor
    ) -> tuple[Change, bool] | Proposal:
        """A member, an application or a service: proposed only when it grants something
        (services/four_eyes_entries.py), else applied at once."""
        if not self.enabled:
            return await entries.put(registry, change)
        entry, granting, was = await entries.checked(registry, change)
        if granting is None:
            # Conditional on what was checked: an entry changed since (a key added through an
            # approval, say) could make this change grant after all.
            try:
                return await entries.put(registry, entry, expected=was)
            except ChangedMeanwhile:
                raise _changed_meanwhile(*entries.kind_and_key(entry)) from None
        previous = {"previous": granting.previous}
        return await self._propose(granting.kind, PUT, granting.key, entry, actor, previous)

    async def put_operator(
        self, operator: Operator, actor: Actor
    ) -> tuple[Operator, bool] | Proposal:
        """Record an operator or service account, or, with four eyes on and a change that lets
        someone act or approve who could not before (domain/proposals.py `operator_grants`),
        check it and return the proposal that waits for a second operator."""
        operators = self._operator_admin()
        if not self.enabled:
            return await operators.put(operator, actor)
        operators.check(operator, actor)
        was = await operators.current(operator.id)
        if not operator_grants(was, operator):
            try:  # conditional on what was checked, as for a member's entry
                return await operators.put(operator, actor, expected=Expected(was))
            except ChangedMeanwhile:
                raise _changed_meanwhile(OPERATOR, operator.id) from None
        previous = {"previous": None if was is None else operator_body(was)}
        return await self._propose(OPERATOR, PUT, operator.id, operator, actor, previous)

    async def delete(self, kind: str, key: tuple[str, ...], actor: Actor) -> Proposal | None:
        """Remove an authorization, an integration right or a right's competence, or propose to
        (four eyes on)."""
        if kind == RIGHTS_COMPETENCE:
            competence = self._competence_admin().by(actor.id)
            if not self.enabled:
                await competence.delete(key[0])
                return None
            await competence.get(key[0])  # a proposal to remove what is not there is refused now
        elif not self.enabled:
            await self._registry.by(actor.id).delete(kind, key)
            return None
        return await self._propose(kind, DELETE, "/".join(key), None, actor)

    async def approve(self, proposal_id: str, actor: Actor) -> Proposal:
        """Apply a pending proposal of another operator, checked again against the registry as
        it is now (a change that no longer passes is refused, and the proposal stays pending)."""
        proposal = await self.get(proposal_id)
        check_approver(proposal, actor.id)
        check_unrelated(proposal, actor.id, await self._proposals.list_proposals(APPROVED))
        registry = self._registry.by(actor.id)
        change: Change | Operator | None = None
        expected: Expected[Any] | None = None  # the entry checked, for the write to expect
        if proposal.kind == OPERATOR:
            change, expected = await self._recheck_operator(proposal, actor)
        elif proposal.action == PUT and proposal.kind == AUTHORIZATION:
            change = await registry.check_authorization(_authorization(proposal.body))
        elif proposal.action == PUT and proposal.kind == RIGHTS_COMPETENCE:
            change = await self._competence_admin().check(Competence(**proposal.body))
        elif proposal.kind in (INSTITUTION, APPLICATION, SERVICE):
            change, expected = await entries.recheck(registry, proposal)
        elif proposal.action == PUT:
            change = await registry.check_integration_right(IntegrationRight(**proposal.body))
        decided = replace(
            proposal, state=APPROVED, decided_by=actor.id, decided_at_ms=self._clock.now_ms()
        )
        if not await self._proposals.decide_proposal(decided):
            check_pending(await self.get(proposal_id))  # decided meanwhile: says by whom
        await self._record("approve", decided, actor)
        detail = {"proposal": proposal.id, "proposed_by": proposal.proposed_by}
        try:
            await self._apply(proposal, change, expected, registry, actor, detail)
        except ChangedMeanwhile:
            # Changed between the check above and the write (in another process, say): the
            # approval is withdrawn, not applied over the change.
            await self._reopen(decided, actor, "changed meanwhile: not applied")
            raise _changed_meanwhile(proposal.kind, proposal.key, proposal.id) from None
        except Exception as failure:
            # Refused on the way (a service's provider removed since) or failed (the store):
            # withdrawn too, rather than left approved with nothing applied.
            code = failure.code if isinstance(failure, Refusal) else type(failure).__name__
            await self._reopen(decided, actor, f"not applied: {code}")
            raise
        return decided

    async def _apply(
        self,
        proposal: Proposal,
        change: Change | Operator | None,
        expected: Expected[Any] | None,
        registry: RegistryAdmin,
        actor: Actor,
        detail: dict[str, Any],
    ) -> None:
        """Write an approved proposal's change; an entry's or an operator's only if it is still
        `expected` (`ChangedMeanwhile`)."""
        if isinstance(change, Operator):
            await self._operator_admin().put(change, actor, detail, expected)
        elif isinstance(change, Authorization):
            await registry.put_authorization(change, detail)
        elif isinstance(change, IntegrationRight):
            await registry.put_integration_right(change, detail)
        elif isinstance(change, Competence):
            await self._competence_admin().by(actor.id).put(change, detail)
        elif isinstance(change, Entry):
            await entries.put(registry, change, detail, expected)
        elif proposal.kind == RIGHTS_COMPETENCE:
            await self._competence_admin().by(actor.id).delete(proposal.key, detail)
        else:
            await registry.delete(proposal.kind, _key(proposal), detail)

    async def _reopen(self, decided: Proposal, actor: Actor, reason: str) -> None:
        """An approval that could not be applied: the proposal waits again, and the log says
        so, and why, after its `proposal.approve`."""
        if await self._proposals.reopen_proposal(decided):
            await self._record("reopen", replace(decided, reason=reason), actor)

    async def reject(self, proposal_id: str, actor: Actor, reason: str | None) -> Proposal:
        proposal = await self.get(proposal_id)
        check_pending(proposal)
        decided = replace(
            proposal,
            state=REJECTED,
            decided_by=actor.id,
            decided_at_ms=self._clock.now_ms(),
            reason=reason,
        )
        if not await self._proposals.decide_proposal(decided):
            check_pending(await self.get(proposal_id))
        await self._record("reject", decided, actor)
        return decided

    async def get(self, proposal_id: str) -> Proposal:
        """The proposal as it stands now (a pending one past its lifetime: EXPIRED)."""
        proposal = await self._proposals.get_proposal(proposal_id)
        if proposal is None:
            raise Refusal("not_found", f"no proposal {proposal_id}.")
        return self._as_of_now(proposal)

    async def list(self, state: str | None = None) -> list[Proposal]:
        """Proposals as they stand now, oldest first; `state` one of domain/proposals.py STATES
        (the store keeps an expired one pending)."""
        stored = PENDING if state == EXPIRED else state
        now = [self._as_of_now(p) for p in await self._proposals.list_proposals(stored)]
        return now if state is None else [p for p in now if p.state == state]

    def _as_of_now(self, proposal: Proposal) -> Proposal:
        return as_of(proposal, self._clock.now_ms(), self._lifetime_ms)

    def _operator_admin(self) -> OperatorAdmin:
        if self._operators is None:
            raise Refusal("not_found", "this hub's four eyes are given no operators to manage.")
        return self._operators

    async def _recheck_operator(
        self, proposal: Proposal, actor: Actor
    ) -> tuple[Operator, Expected[Operator]]:
        """The proposed operator checked again; `conflict` if it changed since the proposal.
        With it, the operator as read now, for the approval's write to expect."""
        operators = self._operator_admin()
        change = operator_from(proposal.body)
        operators.check(change, actor)
        now = await operators.current(change.id)
        entries.check_unchanged(proposal, None if now is None else operator_body(now))
        return change, Expected(now)

    def _competence_admin(self) -> CompetenceAdmin:
        if self._competence is None:
            raise Refusal("not_found", "this hub keeps no competent institutions of rights.")
        return self._competence

    async def _propose(
        self,
        kind: str,
        action: str,
        key: str,
        change: Change | Operator | None,
        actor: Actor,
        extra: dict[str, Any] | None = None,
    ) -> Proposal:
        if change is None:
            body: dict[str, Any] = {}
        elif isinstance(change, Operator):
            body = {**operator_body(change), **(extra or {})}
        else:
            body = {**_plain(change), **(extra or {})}
        proposal = Proposal(
            id=str(uuid.uuid4()),
            kind=kind,
            action=action,
            key=key,
            body=body,
            proposed_by=actor.id,
            proposed_at_ms=self._clock.now_ms(),
        )
        await self._proposals.add_proposal(proposal)
        await self._record("create", proposal, actor)
        return proposal

    async def _record(self, action: str, proposal: Proposal, actor: Actor) -> None:
        await self._audit.append(
            AuditRecord(
                kind="registry",
                at_ms=self._clock.now_ms(),
                outcome="ok",
                action=f"proposal.{action}",
                target=proposal.id,
                detail={
                    "kind": proposal.kind,
                    "change": proposal.action,
                    "key": proposal.key,
                    "proposed_by": proposal.proposed_by,
                    **({"body": proposal.body} if action == "create" and proposal.body else {}),
                    **({"reason": proposal.reason} if proposal.reason else {}),
                },
                actor=actor.id,
            )
        )


def _authorization(body: dict[str, Any]) -> Authorization:
    return Authorization(
        **{
            **body,
            "required_capacities": tuple(body["required_capacities"]),
            "allowed_fields": tuple(body["allowed_fields"]),
            "valid_from": _day(body.get("valid_from")),
            "valid_to": _day(body.get("valid_to")),
        }
    )


def _changed_meanwhile(kind: str, key: str, proposal_id: str | None = None) -> Refusal:
    """The refusal of a write whose entry changed after it was checked."""
    if proposal_id is None:
        return Refusal(
            "conflict", f"{kind} {key} changed while this change was checked: send it again."
        )
    return Refusal(
        "conflict",
        f"{kind} {key} changed while proposal {proposal_id} was approved: nothing was applied and"
        " the proposal is pending again; reject it and propose the change again.",
    )


def _key(proposal: Proposal) -> tuple[str, ...]:
    """The registry key a proposal names: an authorization's reference may hold slashes."""
    if proposal.kind == AUTHORIZATION:
        return (proposal.key,)
    return tuple(proposal.key.split("/", 1))


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)
