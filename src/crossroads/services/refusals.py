"""Refusals given at the hub's door, in the audit log: a request refused before any use case ran
(no token, a malformed body, a wrong method, a body over the limit) or by a use case that keeps
no record of its own refusals.

Use cases that record their refusals themselves (the exchange, tokens, directory changes,
declarations without a mandate) mark them audited (`Refusal.mark_audited`); the HTTP layer hands
every other refusal here, so that each refused request is in the log exactly once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..domain.audit import AuditRecord
from ..domain.callers import Caller
from .clock import Clock
from .deferred_audit import DeferredAudit
from .ports import AuditLog


@dataclass(frozen=True)
class RefusedRequest:
    """What the door knows of a refused request: its id, the route (`METHOD /path`, or
    `METHOD unrouted`), the code and field, who asked (when known), and any `detail`."""

    request_id: str
    action: str
    code: str
    field: str | None = None
    caller: Caller | None = None
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)


class RefusalLog:
    def __init__(self, audit: AuditLog, clock: Clock, deferred: DeferredAudit) -> None:
        """`deferred` takes the records of requests refused because the store is out."""
        self._audit = audit
        self._clock = clock
        self._deferred = deferred

    async def record(self, *refused: RefusedRequest) -> None:
        """Append one `request` record per refusal, committed together."""
        records = self._records(refused)
        if len(records) == 1:
            await self._audit.append(records[0])
        elif records:
            await self._audit.append_many(records)

    def defer(self, refused: RefusedRequest) -> None:
        """Record a refusal given because the store is out (`not_ready`) once it is back."""
        for record in self._records((refused,)):
            self._deferred.defer(record)

    def _records(self, refused: tuple[RefusedRequest, ...]) -> list[AuditRecord]:
        at_ms = self._clock.now_ms()
        return [
            AuditRecord(
                kind="request",
                at_ms=at_ms,
                outcome=r.code,
                request_id=r.request_id,
                consumer=r.caller.institution if r.caller else None,
                application=r.caller.application if r.caller else None,
                action=r.action,
                detail={**({"field": r.field} if r.field else {}), **r.detail},
                actor=r.caller.actor.id if r.caller and r.caller.actor else None,
            )
            for r in refused
        ]
