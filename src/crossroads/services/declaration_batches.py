"""Batch files of declarations: uploaded, stored, queued, and handed one at a time to the batch
worker process; the declarant polls the batch for its status and acknowledgement.

A file is stored before its upload is answered, so an acknowledged file survives a crash. The
same file (same kind, same SHA-256) sent again by the same institution is answered with the
first upload's batch.

The queue is shared by every member, so no member's file may stop or hold it:
- each kind of file has its own size limit, and each institution a quota of files and bytes
  waiting (`quota_exceeded` beyond it);
- institutions take turns (services/ports/declarations.py, `next_batch`), so a file waits for at
  most one file of each other institution;
- a file whose processing raises ends at once with result B and the error `batch_failed`; a file
  whose worker process dies (killed, out of memory) is tried again on its next turn, until it has
  been started `max_attempts` times, and then ends the same way. Attempts are counted in the
  store before the work begins (by the worker, so that the hub process does not wait on that
  write while the disk takes in the file just uploaded), so a file that brings the whole hub down
  is counted too.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from ..domain.callers import Caller
from ..domain.declarations.records import DIMONA, DMFA, Batch, Declaration, QueueShare
from ..domain.errors import Refusal
from .batch_processing import audit_batch_end, declaration_out
from .clock import Clock, sleep_unless
from .declarations import declarant, declared_by
from .ports import AuditLog, BatchFailed, BatchWorker, DeclarationStore, WorkerLost

log = logging.getLogger("crossroads.declarations")
KINDS = (DIMONA, DMFA)
XML, JSON = "application/xml", "application/json"
_MAX_BACKOFF_SECONDS = 60.0
_HASH_INLINE_BYTES = 1 << 20


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class BatchLimits:
    max_bytes: dict[str, int]  # kind -> largest file
    quota_files: int  # files one institution may have waiting
    quota_bytes: int  # bytes one institution may have waiting
    max_attempts: int  # starts of a file before it ends as failed


class DeclarationBatches:
    def __init__(
        self,
        store: DeclarationStore,
        worker: BatchWorker,
        audit: AuditLog,
        clock: Clock,
        limits: BatchLimits,
        check_declarant: Callable[[Caller], Awaitable[None]],
    ) -> None:
        """`check_declarant` refuses a caller that declares for no one
        (DeclarationService.check_declarant): its files are refused before they are kept."""
        self._check_declarant = check_declarant
        self._store = store
        self._worker = worker
        self._audit = audit
        self._clock = clock
        self._limits = limits

    async def admissible(
        self, caller: Caller, kind: str, content_type: str, at_least: int = 0, quota: bool = True
    ) -> None:
        """Refuse, as `upload` would, a file that can be refused before it is received: of no
        kind, in no format, from a caller that declares for no one, larger than its kind allows
        or (with `quota`) past the institution's quota. `at_least`: what is known of the file's
        size before it arrives (its Content-Length), a lower bound. The entrypoints call this
        before reading the body, so that a refused file costs neither the time to receive it nor
        the memory to hold it; `upload` checks all again, the quota atomically with storing the
        file. Checked before the file is read, the quota refuses the same file sent again too
        (`upload` answers that one with its first batch): the API leaves it to `upload`."""
        self._check_kind_and_media(kind, content_type)
        await self._check_declarant(caller)
        self._check_size(kind, at_least)
        if quota:
            institution = declarant(caller).split(":", 1)[0]
            self._admit(at_least)(await self._store.waiting_batches(institution))

    async def upload(
        self, caller: Caller, kind: str, body: bytes, content_type: str, language: str
    ) -> tuple[Batch, bool]:
        media = self._check_kind_and_media(kind, content_type)
        if not body:
            raise Refusal("malformed_request", "the file is empty.")
        await self._check_declarant(caller)
        self._check_size(kind, len(body))
        # hashlib lets go of the GIL on large data: a 100 MB file is hashed (about 0.2 s) beside the
        # event loop, not on it.
        sha = (
            await asyncio.to_thread(_sha256, body)
            if len(body) > _HASH_INLINE_BYTES
            else _sha256(body)
        )
        return await self._store.add_batch(
            declarant(caller),
            kind,
            sha,
            JSON if media == JSON else XML,
            body,
            language,
            self._clock.now_ms(),
            self._admit(len(body)),
        )

    @staticmethod
    def _check_kind_and_media(kind: str, content_type: str) -> str:
        """The file's media type, once the kind and it are known ones."""
        if kind not in KINDS:
            raise Refusal(
                "not_found", f"batch files are {' or '.join(KINDS)}, not {kind[:40]!r}.", "kind"
            )
        media = content_type.split(";")[0].strip().lower()
        if media not in (XML, "text/xml", JSON):
            raise Refusal(
                "unsupported_media_type",
                "send the file as application/xml (the official format) or application/json.",
            )
        return media

    def _check_size(self, kind: str, size: int) -> None:
        largest = self._limits.max_bytes[kind]
        if size > largest:
            raise Refusal(
                "payload_too_large",
                f"a {kind} batch file is at most {largest} bytes; this one is {size}.",
            )

    def _admit(self, size: int) -> Callable[[QueueShare], None]:
        def admit(waiting: QueueShare) -> None:
            if waiting.files + 1 > self._limits.quota_files:
                raise Refusal(
                    "quota_exceeded",
                    f"your institution already has {waiting.files} batch files waiting, the most "
                    "it may; send this one once they are processed.",
                )
            if waiting.bytes + size > self._limits.quota_bytes:
                raise Refusal(
                    "quota_exceeded",
                    f"your institution's waiting batch files hold {waiting.bytes} bytes; with this "
                    f"one they would pass the {self._limits.quota_bytes} it may have waiting.",
                )

        return admit

    async def status(self, caller: Caller, batch_id: int) -> tuple[Batch, list[Declaration]]:
        batch = await self._store.batch(batch_id)
        if batch is None or not declared_by(caller, batch.declarant):
            raise Refusal("not_found", f"no batch {batch_id} of yours.", "batch")
        return batch, await self._store.batch_declarations(batch_id)

    async def process_waiting(self, limit: int = 1) -> int:
        """Take up to `limit` waiting files in turn, each to its end; the number taken."""
        done = 0
        while done < limit and await self.process_next():
            done += 1
        return done

    async def process_next(self) -> bool:
        """Take the next waiting file to its end (or to its worker's death); False when none
        waits."""
        batch = await self._store.next_batch()
        if batch is None:
            return False
        if batch.attempts >= self._limits.max_attempts:
            log.error(
                "declarations: batch %d stopped its worker %d times; it ends with result B",
                batch.id,
                batch.attempts,
            )
            await self._fail(
                batch,
                f"processing this file stopped the hub's batch worker {batch.attempts} times.",
            )
            return True
        await self._worker.start()  # a worker that cannot start costs no file an attempt
        attempts = (
            batch.attempts + 1
        )  # counted by the worker before it reads the file (services/batch_processing.py)
        try:
            await self._worker.process(batch.id)
        except WorkerLost as lost:
            log.error(
                "declarations: the batch worker stopped while processing batch %d (attempt %d "
                "of %d): %s",
                batch.id,
                attempts,
                self._limits.max_attempts,
                lost,
            )
        except BatchFailed as failed:
            log.error(
                "declarations: processing batch %d failed; it ends with result B\n%s",
                batch.id,
                failed,
            )
            await self._fail(
                batch, "processing this file failed in a way the hub did not foresee.", attempts
            )
        return True

    async def _fail(self, batch: Batch, why: str, attempts: int | None = None) -> None:
        """End a batch with result B and the error batch_failed; the same file may be sent again."""
        refusal = Refusal(
            "batch_failed",
            f"{why} It is logged under batch {batch.id}; the forms decided before the "
            "failure are in this acknowledgement, and the same file may be sent again.",
        )
        decided = await self._store.batch_declarations(batch.id)
        acknowledgement = {
            "batchId": batch.id,
            "result": "B",
            "forms": len(decided),
            "declarations": [declaration_out(d) for d in decided],
            "error": refusal.to_dict(),
        }
        now = self._clock.now_ms()
        if await self._store.finish_batch(batch.id, "B", acknowledgement, now, failed=True):
            counted = batch if attempts is None else replace(batch, attempts=attempts)
            await audit_batch_end(
                self._audit, counted, "B", "batch_failed", now, {"forms": len(decided)}
            )

    async def run(self, stop: asyncio.Event, leading: Callable[[], bool], interval: float) -> None:
        failures = 0
        while not stop.is_set():
            processed = False
            if leading():
                try:
                    processed = await self.process_next()
                    failures = 0
                except (
                    Exception
                ):  # the store, most likely: logged, and tried again later, more slowly each time
                    failures += 1
                    log.exception(
                        "declarations: the batch queue failed (%d in a row); trying again later",
                        failures,
                    )
            if not processed:
                await sleep_unless(stop, min(interval * 2**failures, _MAX_BACKOFF_SECONDS))

    async def close(self) -> None:
        await self._worker.close()
