"""Reading forms that the official schema has accepted into the domain's values.

Only documents that passed `OfficialSchema.validate` come here, so every required element is
present and every value has its schema type; what this module adds is the mapping of element
names to the domain's fields.
"""

from __future__ import annotations

from datetime import date

from lxml import etree

from ..domain.declarations.dimona import KINDS, DimonaForm
from ..domain.declarations.employers import EmployerRef
from ..domain.declarations.dmfa import (
    Contribution, DmfaDeclaration, DmfaWorker, Occupation, Remuneration, WorkerLine, WorkingTime,
)


def _text(node: etree._Element, path: str) -> str | None:
    value = node.findtext(path)
    return value.strip() if value is not None and value.strip() else None


def _date(node: etree._Element, path: str) -> date | None:
    value = _text(node, path)
    return date.fromisoformat(value) if value else None


def _int(node: etree._Element, path: str) -> int | None:
    value = _text(node, path)
    return int(value) if value is not None else None


def _employer_number(value: str | None) -> str | None:
    # The schema types these as integers: "0403448140" and "403448140" are the same number.
    return None if value is None else str(int(value))


def dimona_forms(tree: etree._ElementTree) -> list[DimonaForm]:
    """Each <Form> of a <Dimona> document, in order."""
    forms = []
    for index, form in enumerate(tree.getroot().findall("Form"), 1):
        body = next(child for child in form if child.tag in KINDS)
        path = f"/Dimona/Form[{index}]/{body.tag}" if index > 1 else f"/Dimona/Form/{body.tag}"
        company = _employer_number(_text(body, "EmployerId/CompanyID"))
        forms.append(DimonaForm(
            kind=body.tag,
            employer=EmployerRef(_employer_number(_text(body, "EmployerId/NOSSRegistrationNbr")),
                                 company.zfill(10) if company else None),
            inss=_text(body, "NaturalPerson/INSS") or _text(body, "INSS"),
            period_id=_int(body, "DimonaPeriodId"),
            start=_date(body, "StartingDate"), start_hour=_text(body, "StartingHour"),
            end=_date(body, "EndingDate"), end_hour=_text(body, "EndingHour"),
            worker_type=_text(body, "DimonaFeatures/WorkerType"),
            joint_committee=_text(body, "DimonaFeatures/JointCommissionNbr"),
            planned_hours=_int(body, "PlannedHoursNbr"),
            path=path,
        ))
    return forms


def dmfa_declaration(tree: etree._ElementTree) -> DmfaDeclaration:
    declaration = tree.getroot().find("Form/EmployerDeclaration")
    base = "/DmfAOriginal/Form/EmployerDeclaration"
    workers = []
    unrelated = sum(int(n.findtext("UnrelatedAmount")) for n in declaration.iterfind("ContributionUnrelatedToNP"))
    for w_index, person in enumerate(declaration.iterfind("NaturalPerson"), 1):
        w_path = f"{base}/NaturalPerson[{w_index}]"
        lines = []
        for l_index, record in enumerate(person.iterfind("WorkerRecord"), 1):
            l_path = f"{w_path}/WorkerRecord[{l_index}]"
            occupations = []
            for o_index, occupation in enumerate(record.iterfind("Occupation"), 1):
                occupations.append(Occupation(
                    number=int(occupation.findtext("OccupationSequenceNbr")),
                    start=_date(occupation, "OccupationStartingDate"), end=_date(occupation, "OccupationEndingDate"),
                    joint_committee=occupation.findtext("JointCommissionNbr").strip(),
                    services=tuple(WorkingTime(str(int(s.findtext("ServiceCode"))), int(s.findtext("ServiceNbrDays")),
                                               _int(s, "ServiceNbrHours")) for s in occupation.iterfind("Service")),
                    remunerations=tuple(Remuneration(str(int(r.findtext("RemunCode"))), int(r.findtext("RemunAmount")))
                                        for r in occupation.iterfind("Remun")),
                    path=f"{l_path}/Occupation[{o_index}]",
                ))
            contributions = tuple(
                Contribution(c.findtext("ContributionWorkerCode").strip(), c.findtext("ContributionType").strip(),
                             _int(c, "ContributionCalculationBasis"), int(c.findtext("ContributionAmount")),
                             f"{l_path}/WorkerContribution[{c_index}]")
                for c_index, c in enumerate(record.iterfind("WorkerContribution"), 1))
            lines.append(WorkerLine(record.findtext("WorkerCode").strip(), tuple(occupations), contributions, l_path))
        workers.append(DmfaWorker(person.findtext("INSS").strip(), tuple(lines), w_path))
    company = _employer_number(_text(declaration, "CompanyID"))
    return DmfaDeclaration(
        quarter=int(declaration.findtext("Quarter")),
        noss=_employer_number(_text(declaration, "NOSSRegistrationNbr")),
        company_id=company.zfill(10) if company and company != "0" else None,
        net_owed=int(declaration.findtext("NetOwedAmount")),
        unrelated_amounts=unrelated,
        workers=tuple(workers), path=base,
    )
