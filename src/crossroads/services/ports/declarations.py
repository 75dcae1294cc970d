"""The declarations service's ports: its store, the official forms it reads, and the worker
that processes batch files away from the process serving requests."""

from __future__ import annotations

import abc
from collections.abc import Callable
from datetime import date
from typing import Any

from ...domain.declarations.anomalies import Anomaly
from ...domain.declarations.dimona import Decision, DimonaForm, DimonaPeriod
from ...domain.declarations.dmfa import DmfaDeclaration, WorkerSummary
from ...domain.declarations.employers import Employer, EmployerRef
from ...domain.declarations.events import Event
from ...domain.declarations.records import Batch, Declaration, Mandate, PendingEvent, QueueShare


class DeclarationStore(abc.ABC):
    """The declarations service's records: employers and mandates, declarations, the DIMONA
    periods and quarterly wages they establish, batch files, and the mutations to publish."""

    @abc.abstractmethod
    async def put_employer(self, employer: Employer) -> bool:
        """Create or replace; True when created."""

    @abc.abstractmethod
    async def find_employer(self, ref: EmployerRef) -> Employer | None:
        """By enterprise number (checked against the NOSS number when both are given), else by
        NOSS number."""

    @abc.abstractmethod
    async def put_mandate(
        self, office: str, employer: str, valid_from: date, valid_to: date | None
    ) -> None: ...

    @abc.abstractmethod
    async def has_mandate(self, office: str, employer: str | None, day: date) -> bool:
        """Whether `office` holds a mandate of `employer` (of any employer, for None) valid on
        `day`."""

    @abc.abstractmethod
    async def list_employers(self, after: str, limit: int) -> list[Employer]:
        """Employers by enterprise number, from the first after `after` ("" for the first page)."""

    @abc.abstractmethod
    async def list_mandates(
        self,
        office: str | None,
        employer: str | None,
        after: tuple[str, str, date] | None,
        limit: int,
    ) -> list[Mandate]:
        """Mandates by (office, employer, valid_from), after `after`; of one office or employer
        when given."""

    @abc.abstractmethod
    async def record_dimona(
        self,
        employer: str | None,
        inss: str | None,
        period_id: int | None,
        decide: Callable[[list[DimonaPeriod], DimonaPeriod | None], Decision],
        describe: Callable[[Decision, DimonaPeriod | None], tuple[Declaration, list[Event]]],
    ) -> tuple[Declaration, DimonaPeriod | None]:
        """In one transaction, serialised per employer and worker: read the worker's periods with
        the employer and the period named by id, `decide`, store the period it creates or
        changes, then the declaration and the events `describe` makes of it."""

    @abc.abstractmethod
    async def periods_of(self, inss: str) -> list[DimonaPeriod]: ...

    @abc.abstractmethod
    async def employer_periods(
        self, employer: str, first: date, last: date
    ) -> dict[str, list[DimonaPeriod]]:
        """The employer's periods overlapping first … last, by INSS."""

    @abc.abstractmethod
    async def record(
        self,
        declaration: Declaration,
        events: list[Event],
        wages: tuple[int, str, list[WorkerSummary]] | None = None,
    ) -> Declaration: ...

    @abc.abstractmethod
    async def declaration(self, declaration_id: int) -> Declaration | None: ...

    @abc.abstractmethod
    async def batch_declarations(self, batch_id: int) -> list[Declaration]: ...

    @abc.abstractmethod
    async def declarations_of(
        self, institution: str, before: int | None, limit: int
    ) -> list[Declaration]:
        """The declarations an institution's applications sent, newest first, with ids below
        `before` when given."""

    @abc.abstractmethod
    async def declarations_for(
        self, employer: str, before: int | None, limit: int
    ) -> list[Declaration]:
        """The declarations made for an employer (by itself or by any payroll office), newest
        first, with ids below `before` when given."""

    @abc.abstractmethod
    async def batches_of(self, institution: str, limit: int) -> list[Batch]:
        """The institution's batch files, newest first."""

    @abc.abstractmethod
    async def social_risks_of(self, inss: str) -> list[Declaration]: ...

    @abc.abstractmethod
    async def wages_of(self, inss: str) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def waiting_batches(self, institution: str) -> QueueShare:
        """What the institution has waiting in the batch queue now (files and bytes)."""

    @abc.abstractmethod
    async def add_batch(
        self,
        declarant: str,
        kind: str,
        sha256: str,
        content_type: str,
        body: bytes,
        language: str,
        at_ms: int,
        admit: Callable[[QueueShare], None],
    ) -> tuple[Batch, bool]:
        """(the batch, True) for a new file; (the earlier batch, False) for the same file (same
        kind and SHA-256) from the same institution again, unless that one failed on the hub's
        side. Before storing a new file, `admit` is called with what the institution already has
        waiting, atomically with the insert; it raises to refuse the file."""

    @abc.abstractmethod
    async def batch(self, batch_id: int) -> Batch | None: ...

    @abc.abstractmethod
    async def batch_body(self, batch_id: int) -> bytes | None:
        """The file of a waiting batch (None once it is done)."""

    @abc.abstractmethod
    async def next_batch(self) -> Batch | None:
        """The waiting batch to work on next: institutions in turn, each one's files oldest
        first."""

    @abc.abstractmethod
    async def start_batch(self, batch_id: int, at_ms: int) -> int:
        """Durably count one more attempt at a waiting batch; the number of attempts so far."""

    @abc.abstractmethod
    async def finish_batch(
        self,
        batch_id: int,
        status: str,
        acknowledgement: dict[str, Any],
        at_ms: int,
        failed: bool = False,
    ) -> bool: ...

    @abc.abstractmethod
    async def pending_events(self, limit: int) -> list[PendingEvent]: ...

    @abc.abstractmethod
    async def mark_published(self, seqs: list[int]) -> None: ...

    @abc.abstractmethod
    async def backlog(self) -> tuple[int, int]:
        """(batch files waiting, events not yet published)."""


class OfficialForms(abc.ABC):
    """The official formats of the social security: a document (XML bytes, or its JSON form as
    a dict) read into the domain's values, or the schema's anomalies when it breaks the schema.

    Raises Refusal (malformed_xml, forbidden_xml, payload_too_large) for a document that cannot
    be read at all."""

    @abc.abstractmethod
    def read_dimona(
        self, document: bytes | dict[str, Any]
    ) -> tuple[list[DimonaForm], list[Anomaly]]: ...

    @abc.abstractmethod
    def read_dmfa(
        self, document: bytes | dict[str, Any]
    ) -> tuple[DmfaDeclaration | None, list[Anomaly]]: ...


class WorkerLost(Exception):
    """The process working on a batch stopped before it finished (killed, out of memory)."""


class BatchFailed(Exception):
    """Processing a batch raised; the message holds the worker's traceback."""


class BatchWorker(abc.ABC):
    """Processes one batch file at a time, away from the process that serves requests."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Make sure the worker is up; raises when it cannot be started."""

    @abc.abstractmethod
    async def process(self, batch_id: int) -> None:
        """Process the batch to its end; raises BatchFailed or WorkerLost."""

    @abc.abstractmethod
    async def close(self) -> None: ...
