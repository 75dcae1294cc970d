"""Processing one batch file of declarations to its end: many DIMONA forms, or a whole DmfA.

This runs in the batch worker process, never in a process that serves requests (see
adapters/batch_worker.py): reading a 100 MB file through the official schema, checking it and
storing its forms takes seconds of CPU, which the hub's event loop must not spend.

The forms of a file are decided one by one, each in its own transaction with the batch's id; a
worker that stops midway resumes after the last form stored, so no form is decided twice. A file
that cannot be read as a whole (not well formed, not a list of forms, a value XML cannot hold)
ends with result B and the error, and none of its forms is stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ..domain import unique_keys
from ..domain.audit import AuditRecord
from ..domain.callers import Caller
from ..domain.declarations.anomalies import Anomaly
from ..domain.declarations.dimona import DimonaForm, refused_form_name
from ..domain.declarations.records import DIMONA, DMFA, Batch, Declaration
from ..domain.errors import Refusal
from .clock import Clock
from .declarations import DeclarationService
from .ports import AuditLog, DeclarationStore, OfficialForms

JSON = "application/json"


def batch_result(statuses: list[str]) -> str:
    """A when every form was accepted, B when every form was refused (or there was none), W
    otherwise."""
    if not statuses or all(s == "B" for s in statuses):
        return "B"
    return "A" if all(s == "A" for s in statuses) else "W"


def declaration_out(d: Declaration) -> dict[str, Any]:
    """A declaration's status as the social security's DIMONA REST service shapes it."""
    out: dict[str, Any] = {
        "declarationId": d.id,
        "kind": d.kind,
        "form": d.form,
        "result": d.status,
        "employer": d.employer,
        "receivedAt": d.received_at_ms,
        "anomalies": [a.to_dict(d.language) for a in d.anomalies],
    }
    if d.kind == DIMONA:
        out["dimonaPeriodId"] = d.period_id if d.status != "B" else None
    if d.batch_id is not None:
        out["batchId"] = d.batch_id
    if d.summary:
        out["summary"] = d.summary
    return out


def caller_of(batch: Batch) -> Caller:
    """Who sent the batch, as the caller its declarations are recorded for."""
    institution, _, application = batch.declarant.partition(":")
    return Caller(institution, application) if application else Caller(None, None, operator=True)


async def audit_batch_end(
    audit: AuditLog, batch: Batch, status: str, outcome: str, at_ms: int, detail: dict[str, Any]
) -> None:
    """The end of a batch file, in the audit log (its forms are audited one by one besides)."""
    caller = caller_of(batch)
    await audit.append(
        AuditRecord(
            kind="declaration",
            at_ms=at_ms,
            outcome=outcome,
            consumer=caller.institution,
            application=caller.application,
            action=f"batch.{batch.kind}",
            service=batch.kind,
            target=str(batch.id),
            detail={"status": status, "attempts": batch.attempts, **detail},
        )
    )


class BatchProcessor:
    def __init__(
        self,
        store: DeclarationStore,
        service: DeclarationService,
        forms: OfficialForms,
        audit: AuditLog,
        clock: Clock,
        release: Callable[[], Awaitable[None]],
    ) -> None:
        """`release` frees what the processor was built with (its store), at `close`."""
        self._store = store
        self._service = service
        self._forms = forms
        self._audit = audit
        self._clock = clock
        self._release = release

    async def process(self, batch_id: int) -> None:
        """Count one more attempt at a waiting batch, durably, then process it to its end
        (nothing when it is done already)."""
        if not await self._store.start_batch(batch_id, self._clock.now_ms()):
            return
        batch = await self._store.batch(batch_id)
        body = await self._store.batch_body(batch_id)
        if batch is None or batch.status != "S" or body is None:
            return
        caller = caller_of(batch)
        earlier = await self._store.batch_declarations(batch.id)
        detail: dict[str, Any]
        try:
            document = unique_keys.loads(body) if batch.content_type == JSON else body
            if batch.kind == DMFA:
                declarations = earlier or [
                    await self._service.submit_dmfa(
                        caller, document, batch.language, batch_id=batch.id, strict_mandate=False
                    )
                ]
            else:
                forms = self._read_dimona(
                    document
                )  # the whole file first: a refusal then stores nothing
                declarations = earlier + await self._decide(caller, batch, forms[len(earlier) :])
            status = batch_result([d.status for d in declarations])
            acknowledgement = {
                "batchId": batch.id,
                "result": status,
                "forms": len(declarations),
                "declarations": [declaration_out(d) for d in declarations],
            }
            outcome, detail = "ok", {"forms": len(declarations)}
        except (Refusal, orjson.JSONDecodeError, unique_keys.DuplicateKey) as exc:
            if isinstance(exc, Refusal):
                refusal = exc
            elif isinstance(exc, unique_keys.DuplicateKey):
                refusal = Refusal("malformed_request", f"{exc}.", exc.path)
            else:
                refusal = Refusal("malformed_request", f"the file is not valid JSON: {exc}")
            status, acknowledgement = (
                "B",
                {"batchId": batch.id, "result": "B", "forms": 0, "error": refusal.to_dict()},
            )
            outcome, detail = refusal.code, {"field": refusal.field} if refusal.field else {}
        now = self._clock.now_ms()
        if await self._store.finish_batch(batch.id, status, acknowledgement, now):
            await audit_batch_end(self._audit, batch, status, outcome, now, detail)

    def _read_dimona(self, document: bytes | object) -> list[DimonaForm | list[Anomaly]]:
        """Every form of the file, in order; in place of a form the schema refuses, its anomalies
        (a file refused as a whole by the schema is one such entry)."""
        if isinstance(document, bytes):
            items: list[Any] = [document]  # bytes, or the JSON values of a list
        elif isinstance(
            document, list
        ):  # JSON: a list of forms, each as in POST /v1/declarations/dimona
            items = document
        else:
            raise Refusal("malformed_request", "a JSON batch of DIMONA forms is a list of forms.")
        read: list[DimonaForm | list[Anomaly]] = []
        for item in items:
            forms, anomalies = self._forms.read_dimona(item)
            read += forms if forms else [anomalies]
        return read

    async def _decide(
        self, caller: Caller, batch: Batch, forms: list[DimonaForm | list[Anomaly]]
    ) -> list[Declaration]:
        decided = []
        # Each in its own transaction, with the batch's id: a restart resumes after it.
        for form in forms:
            if isinstance(form, list):
                decided.append(
                    await self._service.record_unreadable(
                        caller, DIMONA, refused_form_name(form), form, batch.language, batch.id
                    )
                )
            else:
                decided.append(
                    await self._service.dimona_form(
                        caller, form, batch.language, batch.id, strict_mandate=False
                    )
                )
        return decided

    async def close(self) -> None:
        await self._release()
