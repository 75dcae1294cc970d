"""DIMONA, the immediate declaration of employment: the four forms and the rules on top of the
schema.

The schema (`Dimona_20231.xsd`) has already checked shapes, lengths and enumerations when a form
reaches `decide`; what is left are the rules that need the register: a known employer, a valid
INSS, code lists valid on the date, the tolerance for a late IN, and the periods already declared
for that employer and worker (no overlap; OUT, update and cancel name an existing period).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Callable

from .anomalies import Anomaly, Glossary, status_of
from .codelists import CodeList, quarter_of
from ..periods import period_dict
from .employers import Employer, EmployerRef
from .events import Event

IN, OUT, UPDATE, CANCEL = "DimonaIn", "DimonaOut", "DimonaUpdate", "DimonaCancel"
KINDS = (IN, OUT, UPDATE, CANCEL)
# Where each form carries the worker's INSS in the official schema (Dimona_20231.xsd): an IN
# describes the worker in NaturalPerson; OUT, update and cancel name the INSS of a period directly.
INSS_ELEMENT = {IN: "NaturalPerson/INSS", OUT: "INSS", UPDATE: "INSS", CANCEL: "INSS"}
# The document element, the name a form goes by when the schema refused it before its kind showed.
DOCUMENT = "Dimona"
_BODY_IN_PATH = re.compile(r"^/Dimona/Form(?:\[\d+\])?/(" + "|".join(KINDS) + r")/")
OPEN, CLOSED, CANCELLED = "open", "closed", "cancelled"

# Joint committee "XXX": "other sectors", allowed by the schema and in no code list.
OTHER_SECTORS = "XXX"
# Worker types whose declarations carry planned hours (glossary zone 01135).
PLANNED_HOURS_TYPES = frozenset({"STU", "O17", "S17"})
EARLIEST_START = date(1920, 1, 1)


@dataclass(frozen=True)
class DimonaForm:
    kind: str  # one of KINDS
    employer: EmployerRef
    inss: str | None = None  # as written in the form
    period_id: int | None = None
    start: date | None = None
    start_hour: str | None = None
    end: date | None = None
    end_hour: str | None = None
    worker_type: str | None = None
    joint_committee: str | None = None
    planned_hours: int | None = None
    path: str = ""  # where the form's body sits, for the anomalies' paths

    def at(self, element: str) -> str:
        return f"{self.path}/{element}"

    @property
    def inss_path(self) -> str:
        return self.at(INSS_ELEMENT[self.kind])


def refused_form_name(anomalies: list[Anomaly]) -> str:
    """The name of a form the schema refused (`DimonaIn`…), read from where its anomalies point;
    the document's name when none points inside a form's body (its header, or no body at all)."""
    for anomaly in anomalies:
        found = _BODY_IN_PATH.match(anomaly.path or "")
        if found:
            return found.group(1)
    return DOCUMENT


@dataclass(frozen=True)
class DimonaPeriod:
    id: int | None  # None until the store numbers it
    employer: str  # enterprise number
    inss: str
    worker_type: str
    joint_committee: str | None
    start: date
    end: date | None
    status: str = OPEN  # open (no end), closed (ended), cancelled

    def overlaps(self, start: date, end: date | None) -> bool:
        return self.start <= (end or date.max) and start <= (self.end or date.max)

    def as_answer(self) -> dict:
        return {"period_id": self.id, "employer": self.employer, "worker_type": self.worker_type,
                "joint_committee": self.joint_committee,
                **period_dict(self.start, self.end), "status": self.status}


@dataclass(frozen=True)
class Decision:
    anomalies: list[Anomaly]
    status: str  # A, W or B
    employer: Employer | None
    inss: str | None
    period: DimonaPeriod | None = None  # the period created or changed (None when refused)
    created: bool = False


@dataclass(frozen=True)
class DimonaRules:
    glossary: Glossary
    joint_committees: CodeList
    normalise_inss: Callable[[str], str | None]  # the normalised INSS, or None when invalid
    late_tolerance_days: int = 0
    valid_enterprise: Callable[[str], bool] = lambda number: True  # check digits of an enterprise number


@dataclass(frozen=True)
class Register:
    """What the rules read: the employer the form names, the worker's periods with that employer,
    and the period the form names by id (whoever it belongs to)."""

    employer: Employer | None
    periods: list[DimonaPeriod]
    named: DimonaPeriod | None = None


def resolve_employer(form: DimonaForm, rules: DimonaRules, found: Employer | None) -> list[Anomaly]:
    """Anomalies about the employer; `found` is the register's answer for the form's numbers."""
    g, ref = rules.glossary, form.employer
    if ref.noss is None and ref.company_id is None:
        return [g.anomaly("90256-364", form.at("EmployerId"), "the form names neither NOSS number nor enterprise number")]
    if ref.company_id is not None and not rules.valid_enterprise(ref.company_id):
        return [g.anomaly("00014-003", form.at("EmployerId/CompanyID"), f"{ref.company_id} fails its check digits")]
    if found is None:
        if ref.company_id is not None:
            return [g.anomaly("00014-235", form.at("EmployerId/CompanyID"), f"no employer {ref.company_id} is registered")]
        return [g.anomaly("00011-235", form.at("EmployerId/NOSSRegistrationNbr"), f"no employer with NOSS number {ref.noss} is registered")]
    if not found.active:
        return [g.anomaly("90373-343", form.path, f"employer {found.company_id} is not active")]
    return []


def decide(form: DimonaForm, rules: DimonaRules, register: Register, today: date) -> Decision:
    """Apply the rules to one form; the decision says what to store and what to publish."""
    g = rules.glossary
    anomalies = resolve_employer(form, rules, register.employer)
    inss = None
    if form.inss is not None:
        inss = rules.normalise_inss(form.inss)
        if inss is None:
            anomalies.append(g.anomaly("00024-003", form.inss_path, "not a valid INSS"))
    elif form.kind == IN:
        anomalies.append(g.anomaly("00024-001", form.inss_path))
    if any(a.blocking for a in anomalies):
        return Decision(anomalies, status_of(anomalies), register.employer, inss)
    employer = register.employer
    assert employer is not None
    if form.kind == IN:
        return _dimona_in(form, rules, register, today, anomalies, employer, inss)
    return _on_existing(form, rules, register, anomalies, employer, inss)


def _dimona_in(form: DimonaForm, rules: DimonaRules, register: Register, today: date,
               anomalies: list[Anomaly], employer: Employer, inss: str | None) -> Decision:
    g = rules.glossary
    assert form.start is not None and inss is not None  # the schema requires StartingDate
    if form.worker_type is None:
        anomalies.append(g.anomaly("00655-001", form.at("DimonaFeatures/WorkerType")))
    if form.joint_committee is None:
        anomalies.append(g.anomaly("00046-001", form.at("DimonaFeatures/JointCommissionNbr")))
    elif form.joint_committee != OTHER_SECTORS and not rules.joint_committees.valid(form.joint_committee, quarter_of(form.start)):
        anomalies.append(g.anomaly("00046-003", form.at("DimonaFeatures/JointCommissionNbr"),
                                   f"joint committee {form.joint_committee} is not in the code list for {quarter_of(form.start)}"))
    anomalies += _dates(form, g, today, "90373")
    if form.worker_type in PLANNED_HOURS_TYPES and form.planned_hours is None:
        anomalies.append(g.anomaly("01135-001", form.at("PlannedHoursNbr"), f"required for worker type {form.worker_type}"))
    if form.worker_type is not None and form.worker_type not in PLANNED_HOURS_TYPES and form.planned_hours is not None:
        anomalies.append(g.anomaly("01135-005", form.at("PlannedHoursNbr"), f"not allowed for worker type {form.worker_type}"))
    late = (today - form.start).days
    if late > rules.late_tolerance_days:
        anomalies.append(g.anomaly("90373-460", form.at("StartingDate"),
                                   f"declared {late} day(s) after the start of work"))
    if form.worker_type is not None:
        clash = _clash(register.periods, form.worker_type, form.start, form.end, None)
        if clash is not None:
            code = "90373-333" if clash.start == form.start else "90373-334"
            anomalies.append(g.anomaly(code, form.path, f"period {clash.id} from {clash.start} already covers these dates"))
    status = status_of(anomalies)
    if status == "B":
        return Decision(anomalies, status, employer, inss)
    period = DimonaPeriod(None, employer.company_id, inss, form.worker_type or "", form.joint_committee,
                          form.start, form.end, CLOSED if form.end else OPEN)
    return Decision(anomalies, status, employer, inss, period, created=True)


def _on_existing(form: DimonaForm, rules: DimonaRules, register: Register, anomalies: list[Anomaly],
                 employer: Employer, inss: str | None) -> Decision:
    g = rules.glossary
    named = register.named
    # Another employer's period is reported as unknown: its existence is not the declarant's business.
    if named is None or named.employer != employer.company_id:
        anomalies.append(g.anomaly("00913-354", form.at("DimonaPeriodId"), f"no period {form.period_id} of this employer"))
        return Decision(anomalies, status_of(anomalies), employer, inss)
    if named.status == CANCELLED:
        anomalies.append(g.anomaly("00913-355", form.at("DimonaPeriodId")))
        return Decision(anomalies, status_of(anomalies), employer, inss)
    if inss is not None and inss != named.inss:
        anomalies.append(g.anomaly("00024-347", form.inss_path,
                                   "the INSS is not the one of this period"))
    if form.kind == OUT:
        if named.end is not None:
            anomalies.append(g.anomaly("00913-356", form.at("DimonaPeriodId"), f"period {named.id} already ends on {named.end}"))
        assert form.end is not None  # the schema requires EndingDate in an OUT
        if form.end < named.start:
            anomalies.append(g.anomaly("00911-014", form.at("EndingDate"), f"the period starts on {named.start}"))
        changed = replace(named, end=form.end, status=CLOSED)
    elif form.kind == UPDATE:
        start, end = form.start or named.start, form.end or named.end
        if (start, end) == (named.start, named.end) and form.start_hour is None and form.end_hour is None and form.planned_hours is None:
            anomalies.append(g.anomaly("90378-444", form.path))
        if end is not None and end < start:
            anomalies.append(g.anomaly("00911-014", form.at("EndingDate"), f"{end} is before {start}"))
        clash = _clash(register.periods, named.worker_type, start, end, named.id)
        if clash is not None:
            code = "90378-333" if clash.start == start else "90378-334"
            anomalies.append(g.anomaly(code, form.path, f"period {clash.id} from {clash.start} already covers these dates"))
        changed = replace(named, start=start, end=end, status=CLOSED if end else OPEN)
    else:
        changed = replace(named, status=CANCELLED)
    status = status_of(anomalies)
    if status == "B":
        return Decision(anomalies, status, employer, named.inss)
    return Decision(anomalies, status, employer, named.inss, changed)


def _dates(form: DimonaForm, g: Glossary, today: date, block: str) -> list[Anomaly]:
    found = []
    horizon = date(today.year + 10, 1, 1)
    if form.start is not None and not EARLIEST_START <= form.start < horizon:
        found.append(g.anomaly("00910-008", form.at("StartingDate"), f"{form.start} is outside 1920-01-01 … {horizon}"))
    if form.start is not None and form.end is not None and form.end < form.start:
        found.append(g.anomaly("00911-014", form.at("EndingDate"), f"{form.end} is before {form.start}"))
    return found


def _clash(periods: list[DimonaPeriod], worker_type: str, start: date, end: date | None,
           ignore: int | None) -> DimonaPeriod | None:
    for period in periods:
        if period.id != ignore and period.status != CANCELLED and period.worker_type == worker_type and period.overlaps(start, end):
            return period
    return None


def events_for(form: DimonaForm, before: DimonaPeriod | None, after: DimonaPeriod) -> list[Event]:
    """The mutations an accepted form causes, about the worker, effective on the dates it sets."""
    payload = after.as_answer()
    if form.kind == IN:
        return [Event("employment.started", after.inss, after.start, payload)]
    if form.kind == OUT:
        assert after.end is not None
        return [Event("employment.ended", after.inss, after.end, payload)]
    if form.kind == CANCEL:
        return [Event("employment.cancelled", after.inss, after.start, payload)]
    assert before is not None
    if after.end is not None and after.end != before.end:
        return [Event("employment.ended", after.inss, after.end, payload)]
    return [Event("employment.changed", after.inss, after.start, payload)]

