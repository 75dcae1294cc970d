"""Writing DmfA files in the official XML, for the demo, the tests and the benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from ..domain.declarations.codelists import quarter_bounds
from ..domain.declarations.dmfa import RateTable, Remuneration


@dataclass(frozen=True)
class WorkerLineSpec:
    inss: str
    worker_code: str = "495"  # an employee (white-collar)
    gross_cents: int = 900_000
    days: int = 65
    joint_committee: str = "200"


def dmfa_xml(
    quarter: int,
    noss: str,
    company_id: str,
    workers: list[WorkerLineSpec],
    rates: RateTable,
    contribution_error_for: frozenset[str] = frozenset(),
    net_owed_delta: int = 0,
) -> bytes:
    """One employer's DmfA for `quarter`, contributions computed with `rates` (except for the
    workers in `contribution_error_for`, whose contribution is one euro short)."""
    first, last = quarter_bounds(quarter)
    parts, owed = [], 0
    for number, w in enumerate(workers, 1):
        basis, amount = rates.expected(w.worker_code, [Remuneration("1", w.gross_cents)])
        if w.inss in contribution_error_for:
            amount -= 100
        owed += amount
        parts.append(
            f"<NaturalPerson><NaturalPersonSequenceNbr>{number}</NaturalPersonSequenceNbr><INSS>{w.inss}</INSS>"
            f"<WorkerRecord><EmployerClass>000</EmployerClass><WorkerCode>{w.worker_code}</WorkerCode>"
            f"<NOSSQuarterStartingDate>{first}</NOSSQuarterStartingDate><NOSSQuarterEndingDate>{last}</NOSSQuarterEndingDate>"
            f"<Border>0</Border><Occupation><OccupationSequenceNbr>1</OccupationSequenceNbr>"
            f"<JointCommissionNbr>{escape(w.joint_committee)}</JointCommissionNbr><WorkingDaysSystem>500</WorkingDaysSystem>"
            f"<ContractType>0</ContractType><Retired>0</Retired>"
            f"<Service><ServiceSequenceNbr>1</ServiceSequenceNbr><ServiceCode>1</ServiceCode><ServiceNbrDays>{w.days}</ServiceNbrDays></Service>"
            f"<Remun><RemunSequenceNbr>1</RemunSequenceNbr><RemunCode>1</RemunCode><RemunAmount>{w.gross_cents}</RemunAmount></Remun>"
            f"</Occupation><WorkerContribution><ContributionWorkerCode>{w.worker_code}</ContributionWorkerCode>"
            f"<ContributionType>0</ContributionType><ContributionCalculationBasis>{basis}</ContributionCalculationBasis>"
            f"<ContributionAmount>{amount}</ContributionAmount></WorkerContribution></WorkerRecord></NaturalPerson>"
        )
    header = (
        "<Identification>DMFA</Identification><FormCreationDate>2026-12-01</FormCreationDate>"
        "<FormCreationHour>10:00:00.000</FormCreationHour><AttestationStatus>0</AttestationStatus><TypeForm>SU</TypeForm>"
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><DmfAOriginal><Form>{header}<EmployerDeclaration>'
        f"<Quarter>{quarter}</Quarter><NOSSRegistrationNbr>{noss}</NOSSRegistrationNbr><Trusteeship>0</Trusteeship>"
        f"<CompanyID>{company_id}</CompanyID><NetOwedAmount>{owed + net_owed_delta}</NetOwedAmount>"
        + "".join(parts)
        + "</EmployerDeclaration></Form></DmfAOriginal>"
    ).encode()
