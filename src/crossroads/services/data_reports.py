"""Citizens' reports of wrong data, routed to the authentic source that holds it.

The source is the one an exchange of that service would ask about the person today
(ExchangeService.sources_of): the service's fixed provider, or the institution the directory
names for a routed one (a person's health insurance fund). A report is written to the audit log
under the person's keyed hash, as the change of their own that it asks for; its text is not.
The source reads its reports with its application's token and closes each with an answer, which
the person then sees.
"""

from __future__ import annotations

from ..domain.audit import AuditRecord
from ..domain.callers import Caller
from ..domain.data_reports import MAX_OPEN_REPORTS, DataReport, checked_text
from ..domain.errors import Refusal
from ..domain.subjects import SubjectHasher
from .clock import Clock
from .exchange import ExchangeService
from .personal_data import PersonalData
from .ports import AuditLog, DataReportStore

PAGE = 100


class DataReports:
    def __init__(
        self,
        store: DataReportStore,
        exchange: ExchangeService,
        personal: PersonalData,
        audit: AuditLog,
        clock: Clock,
        hasher: SubjectHasher,
    ) -> None:
        self._store = store
        self._exchange = exchange
        self._personal = personal
        self._audit = audit
        self._clock = clock
        self._hasher = hasher

    async def report(self, subject: str, service: str, message: object) -> list[DataReport]:
        """The person says the service's data about them is wrong: one report to each source
        that holds it. Only a service their page shows (an own-access authorization valid
        today) is reported on: the form offers no other, and a report is the person's own data
        sent to a source, which that authorization is the legal ground for. A person has at
        most MAX_OPEN_REPORTS open reports of one service with one source (`quota_exceeded`),
        so that no one fills a source's queue of reports."""
        text = checked_text(message, "message")
        if service not in {a.service for a in await self._personal.authorizations()}:
            raise Refusal(
                "not_found",
                f"your page shows no data of service {service[:64]!r} to report on.",
                "service",
            )
        sources = await self._exchange.sources_of(service, subject)
        key = self._hasher.hex(subject)
        made = []
        for source in sources:
            report = await self._store.add(
                DataReport(None, source, service, subject, key, text, self._clock.now_ms()),
                MAX_OPEN_REPORTS,
            )
            if report is None:
                raise Refusal(
                    "quota_exceeded",
                    f"you already have {MAX_OPEN_REPORTS} reports about this data waiting for "
                    "an answer: add to them once the source has answered one.",
                    "message",
                )
            await self._audit.append(
                AuditRecord(
                    kind="report",
                    at_ms=report.received_at_ms,
                    outcome="ok",
                    action="data.report",
                    service=service,
                    target=source,
                    subject_hash=key,
                )
            )
            made.append(report)
        return made

    async def of_person(self, subject: str) -> list[DataReport]:
        return await self._store.of_subject(self._hasher.hex(subject), PAGE)

    async def for_source(self, caller: Caller, after: int, limit: int) -> list[DataReport]:
        """The reports addressed to the caller's institution."""
        return await self._store.of_source(_institution(caller), after, limit)

    async def close(self, caller: Caller, report_id: int, answer: object) -> None:
        text = checked_text(answer, "answer")
        if not await self._store.close(report_id, _institution(caller), self._clock.now_ms(), text):
            raise Refusal("not_found", f"no open report {report_id} addressed to you.", "report")


def _institution(caller: Caller) -> str:
    if caller.institution is None:
        raise Refusal("forbidden", "reports are read by the authentic source they are sent to.")
    return caller.institution
