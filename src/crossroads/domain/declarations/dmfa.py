"""The DmfA, the quarterly multifunctional declaration: per worker, occupations with their
remuneration and working time, and the contributions; checked against the code lists, against
the DIMONA periods of the quarter, and by recomputing the contributions.

Amounts are in euro cents, as the DmfA writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable

from .anomalies import Anomaly, Glossary
from .codelists import CodeList, quarter_bounds, quarter_of
from .dimona import CANCELLED, DimonaPeriod
from .employers import Employer
from .dimona import OTHER_SECTORS as _OTHER


@dataclass(frozen=True)
class Remuneration:
    code: str
    amount: int


@dataclass(frozen=True)
class WorkingTime:
    code: str
    days: int
    hours: int | None


@dataclass(frozen=True)
class Occupation:
    number: int
    start: date | None
    end: date | None
    joint_committee: str
    services: tuple[WorkingTime, ...]
    remunerations: tuple[Remuneration, ...]
    path: str


@dataclass(frozen=True)
class Contribution:
    worker_code: str
    type: str
    basis: int | None
    amount: int
    path: str


@dataclass(frozen=True)
class WorkerLine:
    worker_code: str
    occupations: tuple[Occupation, ...]
    contributions: tuple[Contribution, ...]
    path: str


@dataclass(frozen=True)
class DmfaWorker:
    inss: str  # as written; `check` normalises it
    lines: tuple[WorkerLine, ...]
    path: str


@dataclass(frozen=True)
class DmfaDeclaration:
    quarter: int
    noss: str | None
    company_id: str | None
    net_owed: int
    unrelated_amounts: int  # contributions not tied to a person
    workers: tuple[DmfaWorker, ...]
    path: str


@dataclass(frozen=True)
class RateTable:
    """The contribution rates the hub recomputes with (see dmfa_rates.json for the demo's)."""

    subject_codes: frozenset[str]  # remuneration codes subject to the ordinary contribution
    rates: dict[str, float]  # worker code -> rate
    uplift: dict[str, float]  # worker code -> factor on the remuneration (manual workers: 1.08)
    default_rate: float

    def expected(self, worker_code: str, remunerations: list[Remuneration]) -> tuple[int, int]:
        """(calculation basis, contribution) in cents for one worker line."""
        gross = sum(r.amount for r in remunerations if r.code in self.subject_codes)
        basis = round(gross * self.uplift.get(worker_code, 1.0))
        return basis, round(basis * self.rates.get(worker_code, self.default_rate))


@dataclass(frozen=True)
class DmfaRules:
    glossary: Glossary
    joint_committees: CodeList
    remuneration: CodeList
    working_time: CodeList
    worker_codes: CodeList
    rates: RateTable
    normalise_inss: Callable[[str], str | None]  # the normalised INSS, or None when invalid


@dataclass(frozen=True)
class WorkerSummary:
    """What the declarations service keeps of one worker for the quarter (`wages.quarterly`)."""

    inss: str
    worker_code: str
    gross: int
    days: int
    hours: int
    joint_committees: tuple[str, ...]


def check(declaration: DmfaDeclaration, rules: DmfaRules, employer: Employer | None,
          periods: dict[str, list[DimonaPeriod]], today: date) -> tuple[list[Anomaly], list[WorkerSummary]]:
    """Every anomaly of the declaration, and the summaries of its identified workers.

    `periods` holds the employer's DIMONA periods by worker (normalised INSS)."""
    g = rules.glossary
    anomalies: list[Anomaly] = []
    base = f"{declaration.path}"
    if declaration.quarter > quarter_of(today):
        # The schema takes any YYYYQ from 20031 on; a quarter that has not begun has no wages yet.
        anomalies.append(g.anomaly("00013-008", f"{base}/Quarter",
                                   f"quarter {declaration.quarter} has not begun (the latest is {quarter_of(today)})"))
    if employer is None:
        if declaration.company_id and declaration.company_id != "0":
            anomalies.append(g.anomaly("00014-235", f"{base}/CompanyID", f"no employer {declaration.company_id} is registered"))
        else:
            anomalies.append(g.anomaly("00011-051", f"{base}/NOSSRegistrationNbr", f"no employer with NOSS number {declaration.noss}"))
    first, last = quarter_bounds(declaration.quarter)
    quarter = declaration.quarter
    owed = declaration.unrelated_amounts
    summaries = []
    for worker in declaration.workers:
        inss = rules.normalise_inss(worker.inss)
        if inss is None:
            anomalies.append(g.anomaly("00024-004", f"{worker.path}/INSS", "not a valid INSS"))
        worker_periods = [p for p in periods.get(inss or "", ()) if p.status != CANCELLED]
        for line in worker.lines:
            if not rules.worker_codes.valid(line.worker_code, quarter):
                anomalies.append(g.anomaly("00037-008", f"{line.path}/WorkerCode", f"worker code {line.worker_code} is not valid in {quarter}"))
            remunerations: list[Remuneration] = []
            days = hours = 0
            committees = []
            for occupation in line.occupations:
                anomalies += _occupation(occupation, rules, quarter)
                remunerations += occupation.remunerations
                days += sum(s.days for s in occupation.services)
                hours += sum(s.hours or 0 for s in occupation.services)
                committees.append(occupation.joint_committee)
                if inss is not None and employer is not None:
                    start = max(first, occupation.start or first)
                    end = min(last, occupation.end or last)
                    if not any(p.employer == employer.company_id and p.overlaps(start, end) for p in worker_periods):
                        anomalies.append(g.anomaly("90015-485", occupation.path,
                                                   f"no DIMONA period of this employer covers {start} … {end}"))
            basis, expected = rules.rates.expected(line.worker_code, remunerations)
            for contribution in line.contributions:
                owed += contribution.amount
                if contribution.worker_code != line.worker_code:
                    continue  # a special contribution: not recomputed (see docs/declarations.md)
                if contribution.basis is not None and contribution.basis != basis:
                    anomalies.append(g.anomaly("00084-044", f"{contribution.path}/ContributionCalculationBasis",
                                               f"declared {contribution.basis}, computed {basis}"))
                if abs(contribution.amount - expected) > 1:  # a cent of rounding either way
                    anomalies.append(g.anomaly("00085-044", f"{contribution.path}/ContributionAmount",
                                               f"declared {contribution.amount}, computed {expected}"))
            if inss is not None:
                summaries.append(WorkerSummary(inss, line.worker_code, sum(r.amount for r in remunerations),
                                               days, hours, tuple(dict.fromkeys(committees))))
    if owed != declaration.net_owed:
        anomalies.append(g.anomaly("00015-007", f"{base}/NetOwedAmount", f"declared {declaration.net_owed}, the lines add up to {owed}"))
    return anomalies, summaries


def _occupation(occupation: Occupation, rules: DmfaRules, quarter: int) -> list[Anomaly]:
    g = rules.glossary
    found = []
    if occupation.joint_committee != _OTHER and not rules.joint_committees.valid(occupation.joint_committee, quarter):
        found.append(g.anomaly("00046-003", f"{occupation.path}/JointCommissionNbr",
                               f"joint committee {occupation.joint_committee} is not valid in {quarter}"))
    for index, service in enumerate(occupation.services, 1):
        if not rules.working_time.valid(service.code, quarter):
            found.append(g.anomaly("00062-008", f"{occupation.path}/Service[{index}]/ServiceCode",
                                   f"working-time code {service.code} is not valid in {quarter}"))
    for index, remuneration in enumerate(occupation.remunerations, 1):
        if not (rules.remuneration.valid(remuneration.code, quarter) and rules.remuneration.flagged(remuneration.code, "DMFA")):
            found.append(g.anomaly("00067-008", f"{occupation.path}/Remun[{index}]/RemunCode",
                                   f"remuneration code {remuneration.code} is not valid in a DmfA of {quarter}"))
    return found
