"""Batch files of declarations: many DIMONA forms, or a whole DmfA, uploaded, stored, and
processed asynchronously; the declarant polls the batch for its status and acknowledgement.

A file is stored before its upload is answered, so an acknowledged file survives a crash. Its
forms are then decided one by one, each in its own transaction with the batch's id; a worker
that stops midway resumes after the last form stored, so no form is decided twice. The same file
sent again by the same institution is recognised by its SHA-256 and answered with the first
upload's batch.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Callable

import orjson

from ..domain.declarations.anomalies import status_of
from ..domain.declarations.records import DIMONA, DMFA, Batch, Declaration
from ..domain.errors import Refusal
from .auth import Caller
from .clock import Clock, sleep_unless
from .declarations import DeclarationService
from .ports import DeclarationStore, OfficialForms

log = logging.getLogger("crossroads.declarations")
KINDS = (DIMONA, DMFA)
XML, JSON = "application/xml", "application/json"


def declaration_out(d: Declaration) -> dict:
    """A declaration's status as the social security's DIMONA REST service shapes it."""
    out = {"declarationId": d.id, "kind": d.kind, "form": d.form, "result": d.status, "employer": d.employer,
           "receivedAt": d.received_at_ms, "anomalies": [a.to_dict(d.language) for a in d.anomalies]}
    if d.kind == DIMONA:
        out["dimonaPeriodId"] = d.period_id if d.status != "B" else None
    if d.batch_id is not None:
        out["batchId"] = d.batch_id
    if d.summary:
        out["summary"] = d.summary
    return out


class DeclarationBatches:
    def __init__(self, store: DeclarationStore, service: DeclarationService, forms: OfficialForms, clock: Clock) -> None:
        self._store = store
        self._service = service
        self._forms = forms
        self._clock = clock

    async def upload(self, caller: Caller, kind: str, body: bytes, content_type: str, language: str) -> tuple[Batch, bool]:
        if kind not in KINDS:
            raise Refusal("not_found", f"batch files are {' or '.join(KINDS)}, not {kind[:40]!r}.", "kind")
        media = content_type.split(";")[0].strip().lower()
        if media not in (XML, "text/xml", JSON):
            raise Refusal("unsupported_media_type", "send the file as application/xml (the official format) or application/json.")
        if not body:
            raise Refusal("malformed_request", "the file is empty.")
        sha = hashlib.sha256(body).hexdigest()
        return await self._store.add_batch(caller.client_id or "operator", kind, sha,
                                           JSON if media == JSON else XML, body, language, self._clock.now_ms())

    async def status(self, caller: Caller, batch_id: int) -> tuple[Batch, list[Declaration]]:
        batch = await self._store.batch(batch_id)
        if batch is None or not (caller.operator or batch.declarant.split(":", 1)[0] == caller.institution):
            raise Refusal("not_found", f"no batch {batch_id} of yours.", "batch")
        return batch, await self._store.batch_declarations(batch_id)

    async def process_waiting(self, limit: int = 1) -> int:
        done = 0
        for batch, body in await self._store.waiting_batches(limit):
            await self.process(batch, body)
            done += 1
        return done

    async def process(self, batch: Batch, body: bytes) -> None:
        institution, _, application = batch.declarant.partition(":")
        caller = Caller(institution, application) if application else Caller(None, None, operator=True)
        earlier = await self._store.batch_declarations(batch.id)
        try:
            document = orjson.loads(body) if batch.content_type == JSON else body
            if batch.kind == DMFA:
                declarations = earlier or [await self._service.submit_dmfa(
                    caller, document, batch.language, batch_id=batch.id, strict_mandate=False)]
            else:
                declarations = await self._dimona_forms(caller, batch, document, len(earlier))
                declarations = earlier + declarations
            status = status_of([a for d in declarations for a in d.anomalies]) if declarations else "B"
            if any(d.status == "B" for d in declarations):
                status = "B" if all(d.status == "B" for d in declarations) else "W"
            acknowledgement = {"batchId": batch.id, "result": status, "forms": len(declarations),
                               "declarations": [declaration_out(d) for d in declarations]}
        except (Refusal, orjson.JSONDecodeError) as exc:
            refusal = exc if isinstance(exc, Refusal) else Refusal("malformed_request", f"the file is not valid JSON: {exc}")
            status, acknowledgement = "B", {"batchId": batch.id, "result": "B", "forms": 0, "error": refusal.to_dict()}
        await self._store.finish_batch(batch.id, status, acknowledgement, self._clock.now_ms())

    async def _dimona_forms(self, caller: Caller, batch: Batch, document: bytes | list, skip: int) -> list[Declaration]:
        """Decide each form of the file after the first `skip` (already stored). A file the schema
        refuses as a whole, or a JSON form it refuses, is recorded as one refused declaration
        carrying the schema's anomalies."""
        items = document if isinstance(document, list) else [document]
        if not isinstance(document, (list, bytes)):
            raise Refusal("malformed_request", "a JSON batch of DIMONA forms is a list of forms.")
        position, decided = 0, []
        for item in items:
            forms, anomalies = self._forms.read_dimona(item)
            for form in forms or [None]:
                position += 1
                if position <= skip:
                    continue
                if form is None:
                    decided.append(await self._service.record_unreadable(caller, DIMONA, "Dimona", anomalies,
                                                                         batch.language, batch.id))
                else:
                    decided.append(await self._service.dimona_form(caller, form, batch.language, batch.id,
                                                                   strict_mandate=False))
        return decided

    async def run(self, stop: asyncio.Event, leading: Callable[[], bool], interval: float) -> None:
        while not stop.is_set():
            processed = 0
            if leading():
                try:
                    processed = await self.process_waiting()
                except Exception:  # a fault of ours or of the store: the batch stays waiting, retried next round
                    log.exception("declarations: processing a batch failed; will retry")
            if not processed:
                await sleep_unless(stop, interval)
