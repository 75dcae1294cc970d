"""Employer declarations collected once: DIMONA, DmfA and social-risk declarations.

The declarations service is the authentic source for employment periods, quarterly wages and
social risks. A declaration is read through the official schema, checked against the rules and
the register, and stored with its status (A, W, B) and anomalies in one transaction together
with the mutations it causes; those are then published to the hub's subscribers by
`publish_pending` (an outbox: a crash between the two loses nothing, and the mutation ids make a
second publication a duplicate).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any, NoReturn, TypeVar

from ..domain.audit import AuditRecord
from ..domain.callers import Caller
from ..domain.declarations import dimona, dmfa, social_risk
from ..domain.declarations.anomalies import Anomaly, Glossary, status_of
from ..domain.declarations.codelists import quarter_bounds
from ..domain.declarations.employers import Employer, EmployerRef
from ..domain.declarations.events import Event
from ..domain.declarations.records import DIMONA, DMFA, SOCIAL_RISK, Declaration
from ..domain.errors import Refusal
from ..domain.identifiers import IdentifierScheme
from ..domain.subjects import SubjectHasher
from .clock import Clock
from .ports import AuditLog, DeclarationStore, OfficialForms
from .schema_check import first_error

log = logging.getLogger("crossroads.declarations")
_Read = TypeVar("_Read")
LANGUAGES = ("nl", "fr", "en")  # the glossaries' languages, in which anomalies are explained


class DeclarationService:
    def __init__(
        self,
        store: DeclarationStore,
        forms: OfficialForms,
        dimona_rules: dimona.DimonaRules,
        dmfa_rules: dmfa.DmfaRules,
        audit: AuditLog,
        clock: Clock,
        scheme: IdentifierScheme,
        hasher: SubjectHasher,
    ) -> None:
        self._store = store
        self._forms = forms
        # A DmfA is read (parsed, converted from JSON, checked against the schema) on a thread of
        # its own, never on the event loop, which serves every member's requests: a large or
        # hostile one (a quarter of 1 MiB, 40,000 values in one field) takes tenths of a second.
        # A DIMONA form is read on the loop: the API bounds it to 64 KiB and 2,000 values (a
        # few ms at most), and the hop to a thread cost a sixth of a DIMONA's CPU (measured,
        # docs/benchmarks.md). So the DmfA schema is only ever used on this one thread and the
        # DIMONA schema only on the loop's: neither is shared, which lxml does not promise to bear.
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="official-forms")
        self._dimona = dimona_rules
        self._dmfa = dmfa_rules
        self._audit = audit
        self._clock = clock
        self._scheme = scheme
        self._hasher = hasher

    # The employers' register and mandates (operator) -------------------------------------

    async def put_employer(
        self, company_id: str, noss: str | None, name: str, active: bool, actor: str | None = None
    ) -> tuple[Employer, bool]:
        """Register or update an employer, audited with the operator's id (`actor`)."""
        number = self._scheme.normalise_enterprise(company_id, "company_id")
        if noss is not None and not (noss.isdigit() and len(noss) <= 9):
            raise Refusal(
                "malformed_request", "noss is the NOSS registration number: up to 9 digits.", "noss"
            )
        employer = Employer(number, str(int(noss)) if noss else None, name, active)
        created = await self._store.put_employer(employer)
        await self._audit.append(
            AuditRecord(
                kind="registry",
                at_ms=self._clock.now_ms(),
                outcome="ok",
                action=f"employer.{'create' if created else 'update'}",
                target=number,
                actor=actor,
            )
        )
        return employer, created

    async def put_mandate(
        self,
        office: str,
        employer: str,
        valid_from: date,
        valid_to: date | None,
        actor: str | None = None,
    ) -> None:
        """Give a payroll office a mandate, audited with the operator's id (`actor`)."""
        office = self._scheme.normalise_enterprise(office, "office")
        employer = self._scheme.normalise_enterprise(employer, "employer")
        if await self._store.find_employer(EmployerRef(company_id=employer)) is None:
            raise Refusal("not_found", f"no employer {employer} is registered.", "employer")
        if valid_to is not None and valid_to < valid_from:
            raise Refusal("invalid_period", "valid_to is before valid_from.", "valid_to")
        await self._store.put_mandate(office, employer, valid_from, valid_to)
        await self._audit.append(
            AuditRecord(
                kind="registry",
                at_ms=self._clock.now_ms(),
                outcome="ok",
                action="mandate.put",
                target=f"{office}>{employer}",
                detail={
                    "from": valid_from.isoformat(),
                    "to": valid_to.isoformat() if valid_to else None,
                },
                actor=actor,
            )
        )

    async def _read(self, read: Callable[[Any], _Read], document: bytes | dict[str, Any]) -> _Read:
        return await asyncio.get_running_loop().run_in_executor(self._reader, read, document)

    # DIMONA ------------------------------------------------------------------------------

    async def submit_dimona(
        self, caller: Caller, document: bytes | dict[str, Any], language: str
    ) -> Declaration:
        """One DIMONA form, decided at once (status A, W or B)."""
        forms, schema_anomalies = self._forms.read_dimona(document)
        if schema_anomalies:
            name = dimona.refused_form_name(schema_anomalies)
            return await self.record_unreadable(caller, DIMONA, name, schema_anomalies, language)
        if len(forms) != 1:
            raise Refusal(
                "malformed_request",
                f"the document holds {len(forms)} forms; send several as a batch file "
                "(POST /v1/declarations/batches).",
            )
        return await self.dimona_form(caller, forms[0], language, None, strict_mandate=True)

    async def dimona_form(
        self,
        caller: Caller,
        form: dimona.DimonaForm,
        language: str,
        batch_id: int | None,
        strict_mandate: bool,
    ) -> Declaration:
        started = self._clock.now()
        employer = (
            await self._store.find_employer(form.employer)
            if (form.employer.noss or form.employer.company_id)
            else None
        )
        if employer is None and strict_mandate:
            await self.check_declarant(caller)
        mandate = (
            []
            if employer is None
            else await self._mandate(
                caller,
                employer.company_id,
                strict_mandate,
                self._dimona.glossary,
                "90256-155",
                form.at("EmployerId"),
            )
        )
        today = self._clock.today()
        inss = self._normalise(form.inss) if form.inss else None

        before: list[dimona.DimonaPeriod | None] = [
            None
        ]  # the named period as it was, for the events

        def decide(
            periods: list[dimona.DimonaPeriod], named: dimona.DimonaPeriod | None
        ) -> dimona.Decision:
            before[0] = named
            if mandate:
                return dimona.Decision(mandate, status_of(mandate), employer, inss)
            return dimona.decide(
                form, self._dimona, dimona.Register(employer, periods, named), today
            )

        def describe(
            decision: dimona.Decision, period: dimona.DimonaPeriod | None
        ) -> tuple[Declaration, list[Event]]:
            events = dimona.events_for(form, before[0], period) if period is not None else []
            declaration = Declaration(
                id=None,
                kind=DIMONA,
                form=form.kind,
                employer=employer.company_id if employer else None,
                declarant=declarant(caller),
                status=decision.status,
                anomalies=decision.anomalies,
                language=language,
                received_at_ms=self._clock.now_ms(),
                batch_id=batch_id,
                period_id=period.id if period else form.period_id,
                inss=decision.inss,
                summary={"period": period.as_answer()} if period else {},
            )
            return declaration, events

        declaration, _ = await self._store.record_dimona(
            employer.company_id if employer else None, inss, form.period_id, decide, describe
        )
        await self._audit_declaration(caller, declaration, started)
        return declaration

    async def check_declarant(self, caller: Caller) -> None:
        """Refuse, audited (`no_mandate`), a caller that declares for no one: neither an
        employer in the register nor a payroll office that holds a mandate valid today. A form
        naming a known employer is judged by that employer's mandates (`_mandate`); this rule
        covers the rest (no employer named, an unknown one, an unreadable form, a batch file),
        which would otherwise be stored as declarations of whoever sent them (an outside review
        filled the store from an institution with no mandate at all, and another from an office
        whose mandates had all ended)."""
        if caller.operator:
            return
        institution = caller.institution or ""
        if await self._store.find_employer(EmployerRef(company_id=institution)) is not None:
            return
        # A mandate valid today, not one that has ended: an office whose mandates have all
        # ended declares for no one any more.
        if await self._store.has_mandate(institution, None, self._clock.today()):
            return
        await self._refuse_mandate(
            caller,
            None,
            f"{institution} declares for no one: it is not an employer in the register and "
            "holds no mandate of one valid today.",
        )

    async def _refuse_mandate(
        self, caller: Caller, employer: str | None, message: str, field: str | None = None
    ) -> NoReturn:
        await self._audit.append(
            AuditRecord(
                kind="declaration",
                at_ms=self._clock.now_ms(),
                outcome="no_mandate",
                consumer=caller.institution,
                application=caller.application,
                action="declaration.submit",
                target=employer,
            )
        )
        raise Refusal("no_mandate", message, field).mark_audited()

    async def _mandate(
        self,
        caller: Caller,
        employer: str,
        strict: bool,
        glossary: Glossary | None = None,
        code: str = "",
        path: str = "",
    ) -> list[Anomaly]:
        """Nothing when the caller is the employer or holds a mandate for it today; else an
        audited refusal (`strict`: the API), or the glossary's anomaly `code` (batch files)."""
        if caller.operator or caller.institution == employer:
            return []
        if await self._store.has_mandate(caller.institution or "", employer, self._clock.today()):
            return []
        if strict:
            await self._refuse_mandate(
                caller,
                employer,
                f"{caller.institution} has no mandate to declare for employer {employer}.",
                "employer",
            )
        assert glossary is not None
        return [glossary.anomaly(code, path, f"no mandate for employer {employer}")]

    def _normalise(self, inss: str) -> str | None:
        return self._scheme.person_or_none(inss)

    # DmfA --------------------------------------------------------------------------------

    async def submit_dmfa(
        self,
        caller: Caller,
        document: bytes | dict[str, Any],
        language: str,
        batch_id: int | None = None,
        strict_mandate: bool = True,
    ) -> Declaration:
        started = self._clock.now()
        declaration, schema_anomalies = await self._read(self._forms.read_dmfa, document)
        if declaration is None:
            return await self.record_unreadable(
                caller, DMFA, "DmfAOriginal", schema_anomalies, language, batch_id
            )
        ref = EmployerRef(
            declaration.noss if declaration.noss != "0" else None, declaration.company_id
        )
        employer = await self._store.find_employer(ref) if (ref.noss or ref.company_id) else None
        if employer is None and strict_mandate:
            await self.check_declarant(caller)
        anomalies: list[Anomaly] = []
        if employer is not None:
            anomalies += await self._mandate(
                caller,
                employer.company_id,
                strict_mandate,
                self._dmfa.glossary,
                "00011-155",
                "/DmfAOriginal/Form/EmployerDeclaration/NOSSRegistrationNbr",
            )
        first, last = quarter_bounds(declaration.quarter)
        periods = (
            await self._store.employer_periods(employer.company_id, first, last) if employer else {}
        )
        found, summaries = dmfa.check(
            declaration, self._dmfa, employer, periods, self._clock.today()
        )
        anomalies += found
        status = status_of(anomalies)
        record = Declaration(
            id=None,
            kind=DMFA,
            form="DmfAOriginal",
            employer=employer.company_id if employer else None,
            declarant=declarant(caller),
            status=status,
            anomalies=anomalies,
            language=language,
            received_at_ms=self._clock.now_ms(),
            batch_id=batch_id,
            summary={
                "quarter": declaration.quarter,
                "workers": len(declaration.workers),
                "worker_lines": sum(len(w.lines) for w in declaration.workers),
                "net_owed_cents": declaration.net_owed,
            },
        )
        accepted = status != "B" and employer is not None
        events = (
            [
                Event(
                    "wages.declared",
                    s.inss,
                    last,
                    {
                        "quarter": declaration.quarter,
                        "employer": employer.company_id,
                        "worker_code": s.worker_code,
                        "gross_cents": s.gross,
                        "days": s.days,
                        "hours": s.hours,
                    },
                )
                for s in summaries
            ]
            if accepted and employer is not None
            else []
        )  # (accepted implies an employer)
        wages = (
            (declaration.quarter, employer.company_id, summaries)
            if accepted and employer is not None
            else None
        )
        stored = await self._store.record(record, events, wages)
        await self._audit_declaration(caller, stored, started)
        return stored

    # Social risks ------------------------------------------------------------------------

    async def submit_social_risk(
        self, caller: Caller, scenario: str, body: object, language: str
    ) -> Declaration:
        started = self._clock.now()
        schema = social_risk.SCENARIOS.get(scenario)
        if schema is None:
            raise Refusal(
                "not_found",
                f"no social-risk scenario {scenario[:60]!r}; the scenarios are "
                f"{', '.join(social_risk.SCENARIOS)}.",
                "scenario",
            )
        if not isinstance(body, dict):
            raise Refusal("malformed_request", "a social-risk declaration is a JSON object.")
        # The first error only: building every error of a form of 40,000 wrong items, to sort
        # them, held the process for seconds (schema_check.py).
        error = first_error(schema, body, formats=True)
        if error is not None:
            where = "/".join(str(p) for p in error[0]) or None
            raise Refusal("malformed_request", f"{where or 'the declaration'}: {error[1]}", where)
        g = social_risk.GLOSSARY
        employer_number = self._scheme.normalise_enterprise(body["employer"], "employer")
        employer = await self._store.find_employer(EmployerRef(company_id=employer_number))
        inss = self._normalise(body["inss"])
        anomalies: list[Anomaly] = []
        if inss is None:
            anomalies.append(g.anomaly("SR001-003", "/inss"))
        if employer is None:
            await self.check_declarant(caller)  # else anyone could store any INSS's "risk"
            anomalies.append(g.anomaly("SR002-235", "/employer"))
        else:
            await self._mandate(caller, employer.company_id, strict=True)
        decision = None
        if inss is not None and employer is not None:
            decision = social_risk.check(
                scenario, body, employer.company_id, await self._store.periods_of(inss)
            )
            anomalies += decision.anomalies
        status = status_of(anomalies)
        record = Declaration(
            id=None,
            kind=SOCIAL_RISK,
            form=scenario,
            employer=employer_number,
            declarant=declarant(caller),
            status=status,
            anomalies=anomalies,
            language=language,
            received_at_ms=self._clock.now_ms(),
            inss=inss,
            summary={k: v for k, v in body.items() if k not in ("inss", "language")},
        )
        events = []
        if status != "B" and decision is not None and inss is not None:
            events = [
                Event(
                    "social-risk.declared",
                    inss,
                    decision.effective,
                    {
                        "scenario": scenario,
                        "employer": employer_number,
                        **{
                            k: v
                            for k, v in body.items()
                            if k not in ("inss", "employer", "language")
                        },
                    },
                )
            ]
        stored = await self._store.record(record, events)
        await self._audit_declaration(caller, stored, started)
        return stored

    # Reading back -----------------------------------------------------------------------

    async def declaration(self, caller: Caller, declaration_id: int) -> Declaration:
        found = await self._store.declaration(declaration_id)
        if found is None or not readable_by(caller, found):
            raise Refusal("not_found", f"no declaration {declaration_id} of yours.", "declaration")
        return found

    # Shared ------------------------------------------------------------------------------

    async def record_unreadable(
        self,
        caller: Caller,
        kind: str,
        form: str,
        anomalies: list[Anomaly],
        language: str,
        batch_id: int | None = None,
    ) -> Declaration:
        """A document the schema refuses is still a declaration received: status B, the
        schema's anomalies, nothing else stored (and only for a caller that declares for
        someone: `check_declarant`)."""
        if batch_id is None:
            await self.check_declarant(caller)
        stored = await self._store.record(
            Declaration(
                id=None,
                kind=kind,
                form=form,
                employer=None,
                declarant=declarant(caller),
                status="B",
                anomalies=anomalies,
                language=language,
                received_at_ms=self._clock.now_ms(),
                batch_id=batch_id,
            ),
            [],
        )
        await self._audit_declaration(caller, stored, self._clock.now())
        return stored

    async def _audit_declaration(
        self, caller: Caller, declaration: Declaration, started: float
    ) -> None:
        await self._audit.append(
            AuditRecord(
                kind="declaration",
                at_ms=declaration.received_at_ms,
                outcome="ok",
                consumer=caller.institution,
                application=caller.application,
                action=f"{declaration.kind}.{declaration.form}",
                service=declaration.kind,
                target=str(declaration.id),
                subject_hash=self._hasher.hex(declaration.inss) if declaration.inss else None,
                latency_us=int((self._clock.now() - started) * 1e6),
                detail={
                    "status": declaration.status,
                    "employer": declaration.employer,
                    "anomalies": sorted({a.code for a in declaration.anomalies})[:20],
                },
            )
        )

    @property
    def forms(self) -> OfficialForms:
        return self._forms

    @property
    def dmfa_rates(self) -> dmfa.RateTable:
        """The rate table contributions are recomputed with (payroll test files use it too)."""
        return self._dmfa.rates


def declarant(caller: Caller) -> str:
    """Who a declaration is recorded as sent by: the application's client id, or the operator."""
    return caller.client_id or "operator"


def declared_by(caller: Caller, declarant: str) -> bool:
    """What the declarant alone reads (a batch file and its acknowledgement; for a declaration,
    `readable_by` adds its employer) is visible to the operator and to the applications of the
    declarant's institution."""
    return caller.operator or declarant.split(":", 1)[0] == caller.institution


def readable_by(caller: Caller, declaration: Declaration) -> bool:
    """A declaration is readable by whoever `declared_by` shows it to, and by the employer it
    was made for: an employer's history holds what its payroll offices declared for it, whether
    or not their mandate still runs. A payroll office reads only what it sent itself, never
    another office's declarations for the same employer."""
    return declared_by(caller, declaration.declarant) or (
        declaration.employer is not None and declaration.employer == caller.institution
    )
