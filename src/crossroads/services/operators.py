"""The hub's operators: people and service accounts, their roles, and who each request is from.

People sign in through OpenID Connect; the hub keeps, per operator id (`person:SUBJECT`), the
roles it grants them, managed here by an operator with the `admin` role (or the static admin
token, which bootstraps the first one). Service accounts (`service:NAME`) carry their public
keys; `TokenService` gives them operator tokens for the admin API. Every change is audited with
its actor. An operator removed or made inactive is signed out at once: their browser sessions
are ended with the change (services/session_records.py), not left to their lifetime.
"""

from __future__ import annotations

from typing import Any

from ..domain.audit import AuditRecord
from ..domain.errors import Refusal
from ..domain.operators import PERSON, SERVICE, Actor, Operator, check_operator_id
from ..domain.public_keys import check_public_jwks
from .clock import Clock
from .ports import AuditLog, Expected, OperatorRepository
from .session_records import SessionRecords


class OperatorAdmin:
    def __init__(
        self,
        operators: OperatorRepository,
        audit: AuditLog,
        clock: Clock,
        sessions: SessionRecords,
    ) -> None:
        self._operators = operators
        self._audit = audit
        self._clock = clock
        self._sessions = sessions

    async def actor_of(self, operator_id: str) -> Actor:
        """The operator as an actor, with the roles the hub grants them now (none when they are
        not registered, or inactive: every admin route then refuses with `role_required`)."""
        operator = await self._operators.get_operator(operator_id)
        return operator.actor() if operator is not None else Actor(operator_id)

    @staticmethod
    def person_id(subject: str) -> str:
        """The operator id of the person an identity provider signed in as `subject`."""
        return f"{PERSON}:{subject}"

    async def put(
        self,
        operator: Operator,
        actor: Actor,
        detail: dict[str, Any] | None = None,
        expected: Expected[Operator] | None = None,
    ) -> tuple[Operator, bool]:
        """Record the operator at once (the command line, the demo's seeding, and with four eyes
        off the admin API; with four eyes on, the API goes through services/four_eyes.py, which
        calls this on approval with the proposal in `detail`, and with `expected`, the operator
        as four eyes checked the change against: `ChangedMeanwhile` if it is no longer)."""
        self.check(operator, actor)
        created = await self._operators.put_operator(operator, expected)
        recorded: dict[str, Any] = {
            "roles": [r.value for r in operator.roles],
            "active": operator.active,
            "kids": [k.get("kid") for k in (operator.jwks or {}).get("keys", [])],
            **(detail or {}),
        }
        if not operator.active:
            recorded["sessions_ended"] = await self._sessions.end_person("operator", operator.id)
        await self._record("create" if created else "update", operator.id, actor, recorded)
        return operator, created

    async def current(self, operator_id: str) -> Operator | None:
        """The operator as registered now (None: not registered)."""
        return await self._operators.get_operator(operator_id)

    def check(self, operator: Operator, actor: Actor) -> None:
        """Refuse an operator `actor` may not record: a malformed id, keys where they do not
        belong or malformed ones, an admin's withdrawing their own admin role."""
        check_operator_id(operator.id)
        if operator.kind == SERVICE:
            check_public_jwks(operator.jwks)
        elif operator.jwks is not None:
            raise Refusal(
                "malformed_request",
                "a person signs in through the identity provider; only a service account has "
                "keys (jwks).",
                "jwks",
            )
        if operator.id == actor.id and not operator.actor().may_manage():
            raise Refusal(
                "conflict",
                f"{actor.id} would withdraw their own admin role; another admin must.",
                "roles",
            )

    async def delete(self, operator_id: str, actor: Actor) -> None:
        if operator_id == actor.id:
            raise Refusal("conflict", "an operator cannot remove themselves; another admin must.")
        if not await self._operators.delete_operator(operator_id):
            raise Refusal("not_found", f"no operator {operator_id} is registered.")
        ended = await self._sessions.end_person("operator", operator_id)
        await self._record("delete", operator_id, actor, {"sessions_ended": ended})

    async def get(self, operator_id: str) -> Operator:
        operator = await self._operators.get_operator(operator_id)
        if operator is None:
            raise Refusal("not_found", f"no operator {operator_id} is registered.")
        return operator

    async def list(self) -> list[Operator]:
        return await self._operators.list_operators()

    async def _record(
        self, action: str, target: str, actor: Actor, detail: dict[str, Any] | None = None
    ) -> None:
        await self._audit.append(
            AuditRecord(
                kind="operator",
                at_ms=self._clock.now_ms(),
                outcome="ok",
                action=f"operator.{action}",
                target=target,
                detail=detail or {},
                actor=actor.id,
            )
        )
