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

from ..domain.declarations.anomalies import Anomaly
from ..domain.declarations.dimona import DimonaForm
from ..domain.declarations.records import DIMONA, DMFA, Batch, Declaration
from ..domain.errors import Refusal
from .auth import Caller
from .clock import Clock, sleep_unless
from .declarations import DeclarationService, declarant, declared_by
from .ports import DeclarationStore, OfficialForms

log = logging.getLogger("crossroads.declarations")
KINDS = (DIMONA, DMFA)
XML, JSON = "application/xml", "application/json"


def _batch_result(statuses: list[str]) -> str:
    """A when every form was accepted, B when every form was refused (or there was none), W otherwise."""
    if not statuses or all(s == "B" for s in statuses):
        return "B"
    return "A" if all(s == "A" for s in statuses) else "W"


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
        return await self._store.add_batch(declarant(caller), kind, sha,
                                           JSON if media == JSON else XML, body, language, self._clock.now_ms())

    async def status(self, caller: Caller, batch_id: int) -> tuple[Batch, list[Declaration]]:
        batch = await self._store.batch(batch_id)
        if batch is None or not declared_by(caller, batch.declarant):
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
                forms = self._read_dimona(document)  # the whole file first: a refusal then stores nothing
                declarations = earlier + await self._decide(caller, batch, forms[len(earlier):])
            status = _batch_result([d.status for d in declarations])
            acknowledgement = {"batchId": batch.id, "result": status, "forms": len(declarations),
                               "declarations": [declaration_out(d) for d in declarations]}
        except (Refusal, orjson.JSONDecodeError) as exc:
            refusal = exc if isinstance(exc, Refusal) else Refusal("malformed_request", f"the file is not valid JSON: {exc}")
            status, acknowledgement = "B", {"batchId": batch.id, "result": "B", "forms": 0, "error": refusal.to_dict()}
        await self._store.finish_batch(batch.id, status, acknowledgement, self._clock.now_ms())

    def _read_dimona(self, document: bytes | object) -> list[DimonaForm | list[Anomaly]]:
        """Every form of the file, in order; in place of a form the schema refuses, its anomalies
        (a file refused as a whole by the schema is one such entry)."""
        if isinstance(document, bytes):
            items: list = [document]
        elif isinstance(document, list):  # JSON: a list of forms, each as in POST /v1/declarations/dimona
            items = document
        else:
            raise Refusal("malformed_request", "a JSON batch of DIMONA forms is a list of forms.")
        read: list[DimonaForm | list[Anomaly]] = []
        for item in items:
            forms, anomalies = self._forms.read_dimona(item)
            read += forms if forms else [anomalies]
        return read

    async def _decide(self, caller: Caller, batch: Batch, forms: list[DimonaForm | list[Anomaly]]) -> list[Declaration]:
        decided = []
        for form in forms:  # each in its own transaction, with the batch's id: a restart resumes after it
            if isinstance(form, list):
                decided.append(await self._service.record_unreadable(caller, DIMONA, "Dimona", form, batch.language, batch.id))
            else:
                decided.append(await self._service.dimona_form(caller, form, batch.language, batch.id, strict_mandate=False))
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
